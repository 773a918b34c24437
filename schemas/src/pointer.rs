//! JSON Pointer (RFC 6901) helpers and local `$ref` resolution shared by the
//! field, minimisation and compatibility code.

use std::borrow::Cow;

use serde_json::Value;

/// How many `$ref` hops are followed from one schema node before giving up
/// (guards against reference cycles).
pub(crate) const MAX_REF_DEPTH: usize = 32;

/// Escapes one reference token: `~` becomes `~0`, `/` becomes `~1`.
pub fn escape(token: &str) -> String {
    if token.contains(['~', '/']) {
        token.replace('~', "~0").replace('/', "~1")
    } else {
        token.to_owned()
    }
}

/// Splits a JSON Pointer into unescaped reference tokens. `""` is the whole
/// document (no tokens). Returns `None` when the text is not a JSON Pointer.
pub fn split(pointer: &str) -> Option<Vec<String>> {
    if pointer.is_empty() {
        return Some(Vec::new());
    }
    let rest = pointer.strip_prefix('/')?;
    rest.split('/').map(unescape).collect()
}

/// Whether `pointer` is a JSON Pointer: `""`, or `/`-prefixed tokens where
/// every `~` is followed by `0` or `1`.
pub fn is_valid(pointer: &str) -> bool {
    (pointer.is_empty() || pointer.starts_with('/'))
        && pointer
            .split('~')
            .skip(1)
            .all(|rest| rest.starts_with(['0', '1']))
}

/// The unescaped tokens of a pointer already checked with [`is_valid`],
/// borrowing where no escape is present.
pub(crate) fn tokens(pointer: &str) -> impl Iterator<Item = Cow<'_, str>> {
    pointer.split('/').skip(1).map(|token| {
        if token.contains('~') {
            Cow::Owned(token.replace("~1", "/").replace("~0", "~"))
        } else {
            Cow::Borrowed(token)
        }
    })
}

fn unescape(token: &str) -> Option<String> {
    if !token.contains('~') {
        return Some(token.to_owned());
    }
    let mut out = String::with_capacity(token.len());
    let mut chars = token.chars();
    while let Some(c) = chars.next() {
        if c == '~' {
            match chars.next() {
                Some('0') => out.push('~'),
                Some('1') => out.push('/'),
                _ => return None,
            }
        } else {
            out.push(c);
        }
    }
    Some(out)
}

/// Resolves a local reference (`#` or `#/json/pointer`) inside `root`,
/// returning the target and its pointer. Remote references give `None`.
pub(crate) fn resolve_local<'a>(root: &'a Value, reference: &str) -> Option<(&'a Value, String)> {
    let fragment = reference.strip_prefix('#')?;
    // Percent-encoding in fragments is rare in our schemas; decode the common `%25`.
    let pointer = fragment.replace("%25", "%");
    if !(pointer.is_empty() || pointer.starts_with('/')) {
        return None; // an anchor, not a pointer
    }
    root.pointer(&pointer).map(|target| (target, pointer))
}

/// The schema node followed by the targets of its local `$ref` chain.
pub(crate) fn ref_chain<'a>(root: &'a Value, node: &'a Value) -> Vec<&'a Value> {
    let mut chain = vec![node];
    let mut current = node;
    while chain.len() <= MAX_REF_DEPTH {
        let Some(reference) = current.get("$ref").and_then(Value::as_str) else {
            break;
        };
        let Some((target, _)) = resolve_local(root, reference) else {
            break;
        };
        chain.push(target);
        current = target;
    }
    chain
}

/// The sub-schema of property `name` in an object schema (following `$ref`).
pub(crate) fn property<'a>(root: &'a Value, node: &'a Value, name: &str) -> Option<&'a Value> {
    ref_chain(root, node)
        .into_iter()
        .find_map(|n| n.get("properties").and_then(|p| p.get(name)))
}

/// All properties of an object schema (following `$ref`), first definition wins.
pub(crate) fn properties<'a>(root: &'a Value, node: &'a Value) -> Vec<(&'a str, &'a Value)> {
    let mut out: Vec<(&str, &Value)> = Vec::new();
    for n in ref_chain(root, node) {
        if let Some(props) = n.get("properties").and_then(Value::as_object) {
            for (k, v) in props {
                if !out.iter().any(|(seen, _)| *seen == k.as_str()) {
                    out.push((k.as_str(), v));
                }
            }
        }
    }
    out
}

/// The `items` schema of an array schema (following `$ref`).
pub(crate) fn items<'a>(root: &'a Value, node: &'a Value) -> Option<&'a Value> {
    ref_chain(root, node)
        .into_iter()
        .find_map(|n| n.get("items").filter(|i| i.is_object()))
}

/// The `required` property names of an object schema (following `$ref`).
pub(crate) fn required<'a>(root: &'a Value, node: &'a Value) -> Vec<&'a str> {
    let mut out = Vec::new();
    for n in ref_chain(root, node) {
        if let Some(list) = n.get("required").and_then(Value::as_array) {
            out.extend(list.iter().filter_map(Value::as_str));
        }
    }
    out
}

/// The property names an object schema requires only under a condition: the
/// `required` of its `then` and `else` (following `$ref`).
pub(crate) fn conditionally_required<'a>(root: &'a Value, node: &'a Value) -> Vec<&'a str> {
    let mut out = Vec::new();
    for n in ref_chain(root, node) {
        for branch in ["then", "else"] {
            if let Some(list) = n
                .get(branch)
                .and_then(|b| b.get("required"))
                .and_then(Value::as_array)
            {
                out.extend(list.iter().filter_map(Value::as_str));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn splits_and_escapes() {
        assert_eq!(split(""), Some(vec![]));
        assert_eq!(split("/a/b"), Some(vec!["a".into(), "b".into()]));
        assert_eq!(split("/a~1b/c~0d"), Some(vec!["a/b".into(), "c~d".into()]));
        assert_eq!(split("a/b"), None);
        assert_eq!(split("/a~2"), None);
        assert_eq!(escape("a/b~c"), "a~1b~0c");
        for p in ["", "/a/b", "/a~1b/c~0d", "a/b", "/a~2", "/a~"] {
            assert_eq!(is_valid(p), split(p).is_some(), "{p}");
            if let Some(expected) = split(p) {
                assert_eq!(tokens(p).collect::<Vec<_>>(), expected, "{p}");
            }
        }
    }

    #[test]
    fn follows_local_refs_and_stops_on_cycles() {
        let root = json!({
            "$defs": {
                "a": {"$ref": "#/$defs/b"},
                "b": {"properties": {"x": {"type": "string"}}, "required": ["x"]},
                "loop": {"$ref": "#/$defs/loop"}
            },
            "$ref": "#/$defs/a"
        });
        assert!(property(&root, &root, "x").is_some());
        assert_eq!(required(&root, &root), ["x"]);
        let looping = &root["$defs"]["loop"];
        assert_eq!(ref_chain(&root, looping).len(), MAX_REF_DEPTH + 1);
        assert!(resolve_local(&root, "https://elsewhere.example/s").is_none());
    }
}
