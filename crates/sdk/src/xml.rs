//! Just enough XML for AWS's answers and S3's request bodies: a tree read with `xmlparser`
//! (already in the dependency tree through the AWS SDK), and escaping for writing.

/// An element: its local name, attributes, children and text.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Node {
    /// Local name (no namespace prefix).
    pub name: String,
    /// Attributes (local names).
    pub attributes: Vec<(String, String)>,
    /// Child elements in order.
    pub children: Vec<Node>,
    /// The text directly inside (entities decoded).
    pub text: String,
}

impl Node {
    /// The first child named `name`.
    pub fn child(&self, name: &str) -> Option<&Node> {
        self.children.iter().find(|c| c.name == name)
    }

    /// The children named `name`.
    pub fn children_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Node> + 'a {
        self.children.iter().filter(move |c| c.name == name)
    }

    /// The text of the first descendant named `name` (depth first).
    pub fn find_text(&self, name: &str) -> Option<&str> {
        if self.name == name {
            return Some(&self.text);
        }
        self.children.iter().find_map(|c| c.find_text(name))
    }
}

/// Parses a document into its root element.
pub fn parse(text: &str) -> Result<Node, String> {
    use xmlparser::{ElementEnd, Token, Tokenizer};
    let mut stack: Vec<Node> = vec![Node::default()];
    for token in Tokenizer::from(text) {
        match token.map_err(|e| format!("invalid XML: {e}"))? {
            Token::ElementStart { local, .. } => stack.push(Node { name: local.to_string(), ..Node::default() }),
            Token::Attribute { local, value, .. } => {
                if let Some(top) = stack.last_mut() {
                    top.attributes.push((local.to_string(), unescape(value.as_str())));
                }
            }
            Token::ElementEnd { end: ElementEnd::Open, .. } => {}
            Token::ElementEnd { end: ElementEnd::Empty | ElementEnd::Close(..), .. } => {
                let node = stack.pop().ok_or("invalid XML: unbalanced elements")?;
                stack.last_mut().ok_or("invalid XML: unbalanced elements")?.children.push(node);
            }
            Token::Text { text } => {
                if let Some(top) = stack.last_mut() {
                    top.text.push_str(&unescape(text.as_str()));
                }
            }
            Token::Cdata { text, .. } => {
                if let Some(top) = stack.last_mut() {
                    top.text.push_str(text.as_str());
                }
            }
            _ => {}
        }
    }
    let mut doc = stack.pop().ok_or("invalid XML: empty")?;
    doc.children.pop().ok_or_else(|| "invalid XML: no root element".to_string())
}

/// Decodes the five predefined entities and character references.
fn unescape(s: &str) -> String {
    if !s.contains('&') {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        rest = &rest[i..];
        let Some(end) = rest.find(';') else { break };
        let entity = &rest[1..end];
        let decoded = match entity {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            e if e.starts_with("#x") => u32::from_str_radix(&e[2..], 16).ok().and_then(char::from_u32),
            e if e.starts_with('#') => e[1..].parse().ok().and_then(char::from_u32),
            _ => None,
        };
        match decoded {
            Some(c) => {
                out.push(c);
                rest = &rest[end + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// Escapes text for an element or attribute.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\r' => out.push_str("&#xD;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_elements_text_and_entities() {
        let n = parse(
            "<?xml version=\"1.0\"?><Error xmlns=\"x\"><Code>NoSuchBucket</Code><Message>a &amp; b &#x41;</Message><Empty/></Error>",
        )
        .expect("parses");
        assert_eq!(n.name, "Error");
        assert_eq!(n.child("Code").map(|c| c.text.as_str()), Some("NoSuchBucket"));
        assert_eq!(n.find_text("Message"), Some("a & b A"));
        assert!(n.child("Empty").is_some());
        assert_eq!(escape("<a&'\">"), "&lt;a&amp;&apos;&quot;&gt;");
    }
}
