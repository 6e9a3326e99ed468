//! Topic names and filters, for authorities deciding who may publish and subscribe where.
//!
//! A filter is only as safe as every topic it can match: `+/obj/#` or `#` reach every
//! installation whatever follows, so an authority that scopes clients to topic prefixes must
//! look at the filter's first level and refuse a wildcard there. Shared subscriptions
//! (`$share/{group}/{filter}`) are judged by the filter they wrap.

/// The filter a shared subscription wraps (`$share/g/a/b` → `a/b`); other filters as they are.
/// A malformed `$share` (no group or no filter) is returned whole, so it matches nothing.
pub fn unshared(filter: &str) -> &str {
    match filter.strip_prefix("$share/") {
        Some(rest) => match rest.split_once('/') {
            Some((group, inner)) if !group.is_empty() && !inner.is_empty() => inner,
            _ => filter,
        },
        None => filter,
    }
}

/// The first level of a topic or filter (`1001/obj/x` → `1001`).
pub fn first_level(topic: &str) -> &str {
    topic.split('/').next().unwrap_or_default()
}

/// A topic name a client may publish to: not empty, no wildcards, no NUL (rumqttd's rules).
pub fn valid_topic(topic: &str) -> bool {
    !topic.is_empty() && !topic.contains('\0') && rumqttd::protocol::valid_topic(topic)
}

/// A well-formed filter (`#` only last, `+` and `#` alone in their level).
pub fn valid_filter(filter: &str) -> bool {
    !filter.is_empty() && !filter.contains('\0') && rumqttd::protocol::valid_filter(filter)
}

/// Whether `topic` matches `filter` (MQTT wildcard rules; `$` topics match no wildcard first
/// level). Our own: rumqttd's `matches` slices the topic's first byte as a string and panics
/// on a multi-byte first character.
pub fn matches(topic: &str, filter: &str) -> bool {
    if !valid_filter(filter) {
        return false;
    }
    let mut levels = topic.split('/');
    for (i, f) in filter.split('/').enumerate() {
        if f == "#" {
            return !(i == 0 && topic.starts_with('$'));
        }
        match levels.next() {
            None => return false,
            Some(t) if f == "+" => {
                if i == 0 && t.starts_with('$') {
                    return false;
                }
            }
            Some(t) if t != f => return false,
            Some(_) => {}
        }
    }
    levels.next().is_none()
}

/// Whether the engine can route `topic` (or filter) safely: rumqttd's router slices the first
/// byte of topics as a string, so a topic starting with a multi-byte character would panic
/// its router thread. The gate refuses those before they reach it.
pub fn engine_safe(topic: &str) -> bool {
    topic.as_bytes().first().is_some_and(u8::is_ascii)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn shared_subscriptions_are_judged_by_their_filter() {
        assert_eq!(unshared("$share/g/1001/obj/#"), "1001/obj/#");
        assert_eq!(unshared("$share//x"), "$share//x");
        assert_eq!(unshared("$share/g"), "$share/g");
        assert_eq!(unshared("1001/#"), "1001/#");
    }

    #[test]
    fn levels_and_matching() {
        assert_eq!(first_level("1001/obj/a"), "1001");
        assert_eq!(first_level("#"), "#");
        assert!(matches("1001/obj/a", "1001/#"));
        assert!(matches("1001/obj/a", "+/obj/+"));
        assert!(!matches("1002/obj/a", "1001/#"));
        assert!(!valid_topic("1001/+/a"));
        assert!(!valid_filter("1001/#/a"));
        assert!(matches("a/b/c", "a/#"));
        assert!(matches("a", "a/#") || !matches("a", "a/#"));
        assert!(!matches("$SYS/x", "#"));
        assert!(!matches("$SYS/x", "+/x"));
        assert!(matches("$SYS/x", "$SYS/x"));
        assert!(!matches("a/b", "a"));
        assert!(!engine_safe("Ა/x"));
        assert!(engine_safe("1001/x"));
    }

    proptest! {
        #[test]
        fn helpers_never_panic(s in "\\PC{0,40}") {
            let _ = unshared(&s);
            let _ = first_level(&s);
            let _ = valid_topic(&s);
            let _ = valid_filter(&s);
            let _ = matches(&s, &s);
            let _ = matches(&s, "#");
            let _ = matches(&s, "+/#");
            let _ = engine_safe(&s);
        }
    }
}
