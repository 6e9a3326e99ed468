//! The data API's query language (Kalibrate public portal):
//! `query=(<prop><op><value>)+(<prop><op><value>)...` with operators `= != @= > < >= <=` and the
//! controls `orderBy`, `direction` (ascending|descending), `limit`, `offset` written as clauses
//! too. Properties may be dotted paths (`status.exported`). Between clauses `+`, which a URL
//! decoder turns into a space, or nothing.
//!
//! Comparison: numbers numerically when both sides are numbers, booleans as booleans, strings
//! case-insensitively for `=`/`!=`/`@=` (contains) and lexicographically for the order operators
//! (ISO 8601 dates order correctly that way).

use std::cmp::Ordering;

use serde_json::Value;

/// Without `limit`, an open query returns the first 1000 documents.
pub const DEFAULT_LIMIT: usize = 1000;
pub const MAX_LIMIT: usize = 10_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Eq,
    Ne,
    Contains,
    Gt,
    Lt,
    Ge,
    Le,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Filter {
    pub path: Vec<String>,
    pub op: Op,
    pub value: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    pub filters: Vec<Filter>,
    pub order_by: Option<Vec<String>>,
    pub descending: bool,
    pub limit: usize,
    pub offset: usize,
}

impl Default for Query {
    fn default() -> Self {
        Query { filters: Vec::new(), order_by: None, descending: false, limit: DEFAULT_LIMIT, offset: 0 }
    }
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{0}")]
pub struct QueryError(pub String);

/// Operators, longest first so `>=` is not read as `>`.
const OPS: &[(&str, Op)] = &[
    ("!=", Op::Ne),
    ("@=", Op::Contains),
    (">=", Op::Ge),
    ("<=", Op::Le),
    ("=", Op::Eq),
    (">", Op::Gt),
    ("<", Op::Lt),
];

pub fn parse(raw: &str) -> Result<Query, QueryError> {
    let mut query = Query::default();
    let mut rest = raw.trim();
    let mut n = 0;
    while !rest.is_empty() {
        n += 1;
        if !rest.starts_with('(') {
            let shown: String = rest.chars().take(30).collect();
            return Err(QueryError(format!(
                "clause {n}: expected '(' at '{shown}'; write clauses as (property<op>value)+(...)"
            )));
        }
        let close = rest.find(')').ok_or_else(|| {
            QueryError(format!("clause {n} '{}': missing ')'", rest.chars().take(40).collect::<String>()))
        })?;
        let clause = &rest[1..close];
        apply_clause(&mut query, clause, n)?;
        rest = rest[close + 1..].trim_start_matches(|c: char| c == '+' || c.is_whitespace());
    }
    Ok(query)
}

fn apply_clause(query: &mut Query, clause: &str, n: usize) -> Result<(), QueryError> {
    let bad = |why: String| QueryError(format!("clause {n} '({clause})': {why}"));
    let name_end = clause
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '.'))
        .ok_or_else(|| bad("no operator; use one of = != @= > < >= <=".into()))?;
    let name = &clause[..name_end];
    if name.is_empty() || name.starts_with('.') || name.ends_with('.') || name.contains("..") {
        return Err(bad("a property name is required before the operator".into()));
    }
    let after = &clause[name_end..];
    let (symbol, op) = OPS.iter().find(|(s, _)| after.starts_with(s)).ok_or_else(|| {
        bad(format!("'{}' is not an operator; use one of = != @= > < >= <=", after.chars().next().unwrap_or(' ')))
    })?;
    let value = after[symbol.len()..].trim();
    if value.is_empty() {
        return Err(bad(format!("a value is required after '{symbol}'")));
    }
    if let Some(extra) = value.chars().next().filter(|c| "<>=!@".contains(*c)) {
        return Err(bad(format!("the value starts with '{extra}': write one operator per clause")));
    }
    let control = |query: &mut Query| -> Result<bool, QueryError> {
        let is = |s: &str| name.eq_ignore_ascii_case(s);
        if !(is("orderBy") || is("direction") || is("limit") || is("offset")) {
            return Ok(false);
        }
        if *op != Op::Eq {
            return Err(bad(format!("{name} takes '=', not '{symbol}'")));
        }
        if is("orderBy") {
            if value.is_empty() {
                return Err(bad("orderBy needs a property name".into()));
            }
            query.order_by = Some(value.split('.').map(str::to_owned).collect());
        } else if is("direction") {
            query.descending = match value.to_ascii_lowercase().as_str() {
                "ascending" | "asc" => false,
                "descending" | "desc" => true,
                _ => return Err(bad(format!("direction is ascending or descending, not '{value}'"))),
            };
        } else {
            let number: usize =
                value.parse().map_err(|_| bad(format!("{name} must be a whole number, not '{value}'")))?;
            if is("limit") {
                if number > MAX_LIMIT {
                    return Err(bad(format!("limit is at most {MAX_LIMIT}")));
                }
                query.limit = number;
            } else {
                query.offset = number;
            }
        }
        Ok(true)
    };
    if !control(query)? {
        query.filters.push(Filter {
            path: name.split('.').map(str::to_owned).collect(),
            op: *op,
            value: value.to_owned(),
        });
    }
    Ok(())
}

/// The value at a dotted path; keys match exactly first, then case-insensitively.
pub fn lookup<'v>(doc: &'v Value, path: &[String]) -> Option<&'v Value> {
    path.iter().try_fold(doc, |v, key| {
        let obj = v.as_object()?;
        obj.get(key).or_else(|| obj.iter().find(|(k, _)| k.eq_ignore_ascii_case(key)).map(|(_, v)| v))
    })
}

impl Filter {
    pub fn matches(&self, doc: &Value) -> bool {
        match lookup(doc, &self.path) {
            None | Some(Value::Null) => match self.op {
                Op::Ne => !self.value.eq_ignore_ascii_case("null"),
                Op::Eq => self.value.eq_ignore_ascii_case("null"),
                _ => false,
            },
            Some(Value::Array(items)) => match self.op {
                Op::Ne => items.iter().all(|i| !self.compare_scalar(i, Op::Eq)),
                op => items.iter().any(|i| self.compare_scalar(i, op)),
            },
            Some(v) => self.compare_scalar(v, self.op),
        }
    }

    fn compare_scalar(&self, v: &Value, op: Op) -> bool {
        let ordering = match v {
            Value::Bool(b) => match self.value.to_ascii_lowercase().as_str() {
                "true" => Some(b.cmp(&true)),
                "false" => Some(b.cmp(&false)),
                _ => None,
            },
            Value::Number(n) => match (n.as_f64(), self.value.parse::<f64>()) {
                (Some(a), Ok(b)) => a.partial_cmp(&b),
                _ => None,
            },
            Value::String(s) => match op {
                Op::Contains => return s.to_lowercase().contains(&self.value.to_lowercase()),
                Op::Eq | Op::Ne => {
                    Some(if s.eq_ignore_ascii_case(&self.value) { Ordering::Equal } else { Ordering::Less })
                }
                _ => Some(match (s.parse::<f64>(), self.value.parse::<f64>()) {
                    (Ok(a), Ok(b)) => a.partial_cmp(&b).unwrap_or(Ordering::Equal),
                    _ => s.as_str().cmp(self.value.as_str()),
                }),
            },
            _ => None,
        };
        let Some(ordering) = ordering else {
            return op == Op::Ne;
        };
        match op {
            Op::Eq => ordering == Ordering::Equal,
            Op::Ne => ordering != Ordering::Equal,
            Op::Contains => false,
            Op::Gt => ordering == Ordering::Greater,
            Op::Lt => ordering == Ordering::Less,
            Op::Ge => ordering != Ordering::Less,
            Op::Le => ordering != Ordering::Greater,
        }
    }
}

/// Orders two documents by a property: numbers numerically, strings as text, missing last.
pub fn compare_by(a: &Value, b: &Value, path: &[String]) -> Ordering {
    match (lookup(a, path), lookup(b, path)) {
        (Some(Value::Number(x)), Some(Value::Number(y))) => {
            x.as_f64().unwrap_or(0.0).partial_cmp(&y.as_f64().unwrap_or(0.0)).unwrap_or(Ordering::Equal)
        }
        (Some(Value::String(x)), Some(Value::String(y))) => x.cmp(y),
        (Some(Value::Bool(x)), Some(Value::Bool(y))) => x.cmp(y),
        (Some(Value::Null) | None, Some(Value::Null) | None) => Ordering::Equal,
        (Some(Value::Null) | None, _) => Ordering::Greater,
        (_, Some(Value::Null) | None) => Ordering::Less,
        (x, y) => x.map(Value::to_string).cmp(&y.map(Value::to_string)),
    }
}

impl Query {
    /// Applies filters, order, offset and limit.
    pub fn run<'d>(&self, docs: impl Iterator<Item = &'d Value>) -> Vec<Value> {
        let mut hits: Vec<&Value> = docs.filter(|d| self.filters.iter().all(|f| f.matches(d))).collect();
        if let Some(path) = &self.order_by {
            hits.sort_by(|a, b| {
                let o = compare_by(a, b, path);
                if self.descending {
                    o.reverse()
                } else {
                    o
                }
            });
        }
        hits.into_iter().skip(self.offset).take(self.limit).cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    #[test]
    fn parses_the_portal_example() {
        let q = parse("(entityVariant=Proposed) (status.exported=true) (exportedTime>=2020-06-01) (orderBy=exportedTime) (direction=descending)").unwrap();
        assert_eq!(q.filters.len(), 3);
        assert_eq!(q.filters[1].path, vec!["status", "exported"]);
        assert_eq!(q.filters[2].op, Op::Ge);
        assert_eq!(q.order_by, Some(vec!["exportedTime".to_string()]));
        assert!(q.descending);
        assert_eq!(q.limit, DEFAULT_LIMIT);
        // `+` kept when the client percent-encoded it.
        assert_eq!(parse("(a=1)+(b!=2)").unwrap().filters.len(), 2);
    }

    #[test]
    fn errors_name_the_bad_clause() {
        let e = parse("(a=1)+(price>>3)").unwrap_err().0;
        assert!(e.contains("clause 2") && e.contains("(price>>3)"), "{e}");
        assert!(parse("(a=1").unwrap_err().0.contains("missing ')'"));
        assert!(parse("a=1").unwrap_err().0.contains("expected '('"));
        assert!(parse("(limit=ten)").unwrap_err().0.contains("whole number"));
        assert!(parse("(direction=up)").unwrap_err().0.contains("ascending or descending"));
        assert!(parse("(=3)").unwrap_err().0.contains("property name"));
    }

    #[test]
    fn filters_order_and_page() {
        let docs = [json!({"id": "1", "entityVariant": "Proposed", "price": 1.5, "status": {"exported": true}, "exportedTime": "2020-06-15T10:00:00Z"}),
            json!({"id": "2", "entityVariant": "proposed", "price": 2.5, "status": {"exported": false}, "exportedTime": "2020-07-01T10:00:00Z"}),
            json!({"id": "3", "entityVariant": "Own", "price": 0.5, "status": {"exported": true}, "exportedTime": "2020-05-01T10:00:00Z"}),
            json!({"id": "4", "entityVariant": "Proposed", "price": 3.0, "status": {"exported": true}, "exportedTime": "2020-08-01T10:00:00Z"})];
        let ids = |q: &str| -> Vec<String> {
            parse(q).unwrap().run(docs.iter()).iter().map(|d| d["id"].as_str().unwrap().to_owned()).collect()
        };
        assert_eq!(ids("(entityVariant=Proposed)(status.exported=true)(exportedTime>=2020-06-01)(orderBy=exportedTime)(direction=descending)"), vec!["4", "1"]);
        assert_eq!(ids("(price>1.5)"), vec!["2", "4"]);
        assert_eq!(ids("(price<=1.5)(orderBy=price)"), vec!["3", "1"]);
        assert_eq!(ids("(entityVariant@=pos)(limit=1)(offset=1)"), vec!["2"]);
        assert_eq!(ids("(entityVariant!=proposed)"), vec!["3"]);
        assert_eq!(ids("(missing=null)(limit=2)"), vec!["1", "2"]);
    }

    proptest! {
        #[test]
        fn parser_never_panics(raw in ".{0,200}") {
            let _ = parse(&raw);
        }

        #[test]
        fn parser_never_panics_on_clause_like_input(raw in "[()+ a-zA-Z0-9.=!@<>_-]{0,120}") {
            if let Ok(q) = parse(&raw) {
                let _ = q.run([json!({"a": 1, "b": "x", "c": {"d": true}})].iter());
            }
        }

        #[test]
        fn well_formed_clauses_parse(name in "[a-zA-Z][a-zA-Z0-9_]{0,10}", op in prop::sample::select(vec!["=", "!=", "@=", ">", "<", ">=", "<="]), value in "[a-zA-Z0-9:-]{1,12}") {
            prop_assume!(!["orderby", "direction", "limit", "offset"].contains(&name.to_ascii_lowercase().as_str()));
            let q = parse(&format!("({name}{op}{value})")).unwrap();
            prop_assert_eq!(q.filters.len(), 1);
            prop_assert_eq!(&q.filters[0].value, &value);
        }
    }
}
