//! Query strings as the knoema package sends them: it pastes values in without URL-encoding
//! (`?filePath=2f3a/data.csv`, `?mnemonics=A;B`), so values are read leniently: `%XX` is
//! decoded where it is valid, anything else (a lone `%`, `+`, `;`, `/`) is kept as it is.
//! Names are matched case-insensitively, as ASP.NET binds them.

/// The decoded `name=value` pairs, in order.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct LenientQuery {
    pairs: Vec<(String, String)>,
}

impl LenientQuery {
    pub fn parse(raw: Option<&str>) -> LenientQuery {
        let pairs = raw
            .unwrap_or_default()
            .split('&')
            .filter(|p| !p.is_empty())
            .map(|pair| {
                let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
                (decode(name), decode(value))
            })
            .collect();
        LenientQuery { pairs }
    }

    /// The first value of `name`, `None` when absent or empty.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str()).filter(|v| !v.is_empty())
    }

    pub fn is_true(&self, name: &str) -> bool {
        self.get(name).is_some_and(|v| v.eq_ignore_ascii_case("true") || v == "1")
    }
}

/// Percent-decodes valid `%XX` escapes; invalid UTF-8 becomes U+FFFD.
fn decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s).decode_utf8_lossy().into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn reads_what_the_package_sends() {
        let q = LenientQuery::parse(Some(
            "doNotGenerateAdvanceReport=true&filePath=ab12/data file+x.csv&datasetId=%41bc&metadataOnly=true",
        ));
        assert_eq!(q.get("filepath"), Some("ab12/data file+x.csv"));
        assert_eq!(q.get("datasetId"), Some("Abc"));
        assert!(q.is_true("metadataonly"));
        assert_eq!(LenientQuery::parse(Some("mnemonics=A;B%;C&x")).get("mnemonics"), Some("A;B%;C"));
        assert_eq!(LenientQuery::parse(Some("x")).get("x"), None);
        assert_eq!(LenientQuery::parse(None).get("x"), None);
    }

    proptest! {
        #[test]
        fn never_panics(raw in ".{0,200}") {
            let q = LenientQuery::parse(Some(&raw));
            let _ = q.get("a");
        }
    }
}
