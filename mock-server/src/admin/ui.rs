//! `GET /__admin/ui` (and `/__run/{id}/__admin/ui`): the journal's web view, one HTML page
//! served from the binary. Its stylesheet and script (`ui/style.css`, `ui/app.js`) are inlined
//! into `ui/index.html` once, and the Content-Security-Policy allows exactly those two by their
//! SHA-256 hashes: no other script, no inline handler, no request to anything but this server.
//! The page reads everything else through the admin API with URLs derived from its own path,
//! so the same page works for the default namespace and inside a run.

use std::sync::LazyLock;

use axum::http::header::{
    CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, REFERRER_POLICY, X_CONTENT_TYPE_OPTIONS,
};
use axum::response::{IntoResponse, Response};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use sha2::{Digest, Sha256};

const TEMPLATE: &str = include_str!("ui/index.html");
const STYLE: &str = include_str!("ui/style.css");
const SCRIPT: &str = include_str!("ui/app.js");
const STYLE_SLOT: &str = "{{style}}";
const SCRIPT_SLOT: &str = "{{script}}";

/// The page as sent, and the policy that goes with it.
struct Page {
    html: String,
    csp: String,
}

static PAGE: LazyLock<Page> = LazyLock::new(assemble);

fn assemble() -> Page {
    let html = TEMPLATE.replacen(STYLE_SLOT, STYLE, 1).replacen(SCRIPT_SLOT, SCRIPT, 1);
    let csp = format!(
        "default-src 'self'; script-src 'sha256-{}'; style-src 'sha256-{}'; img-src 'self' data:; \
         connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
        sha256_base64(SCRIPT),
        sha256_base64(STYLE)
    );
    Page { html, csp }
}

/// The CSP source hash of an inline element's content: base64 of its SHA-256.
fn sha256_base64(content: &str) -> String {
    STANDARD.encode(Sha256::digest(content.as_bytes()))
}

pub async fn page() -> Response {
    let page = &*PAGE;
    (
        [
            (CONTENT_TYPE, "text/html; charset=utf-8"),
            (CACHE_CONTROL, "no-store"),
            (CONTENT_SECURITY_POLICY, page.csp.as_str()),
            (X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (REFERRER_POLICY, "no-referrer"),
        ],
        page.html.clone(),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_assets_fill_each_slot_once_and_cannot_end_their_element_early() {
        assert_eq!(TEMPLATE.matches(STYLE_SLOT).count(), 1);
        assert_eq!(TEMPLATE.matches(SCRIPT_SLOT).count(), 1);
        assert!(!SCRIPT.to_ascii_lowercase().contains("</script"));
        assert!(!STYLE.to_ascii_lowercase().contains("</style"));
        let page = assemble();
        assert!(!page.html.contains(STYLE_SLOT) && !page.html.contains(SCRIPT_SLOT));
        assert!(page.html.contains(&format!("<script>{SCRIPT}</script>")));
        assert!(page.html.contains(&format!("<style>{STYLE}</style>")));
    }

    #[test]
    fn the_policy_allows_the_inline_assets_by_hash_and_nothing_inline_else() {
        let csp = assemble().csp;
        assert!(csp.starts_with("default-src 'self';"));
        assert!(csp.contains(&format!("'sha256-{}'", sha256_base64(SCRIPT))));
        assert!(csp.contains(&format!("'sha256-{}'", sha256_base64(STYLE))));
        assert!(!csp.contains("unsafe"));
        // A known vector: SHA-256 of the empty string.
        assert_eq!(sha256_base64(""), "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=");
    }

    #[test]
    fn the_script_never_parses_journal_text_as_html() {
        for sink in ["innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function"] {
            assert!(!SCRIPT.contains(sink), "app.js uses {sink}");
        }
    }

    #[test]
    fn the_page_has_no_inline_handlers_or_style_attributes_the_policy_would_block() {
        let lower = TEMPLATE.to_ascii_lowercase();
        assert!(!lower.contains(" onclick=") && !lower.contains(" onload=") && !lower.contains(" style="));
        assert!(!lower.contains("http://") && !lower.contains("https://"), "no external resource");
    }
}
