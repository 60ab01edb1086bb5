//! What a page says about itself: its title and the icon it links to.
//!
//! Real HTML parsing (html5ever through `scraper`), because pages of medical web front ends are
//! anything but tidy: upper-case tags, titles inside broken markup, entities, `<title>` in an SVG.
//! The input is the capped body; the output is bounded, whitespace-collapsed printable text.

use medsurface_model::text::printable;
use scraper::{Html, Selector};

/// Most bytes of a title kept.
pub const TITLE_CAP: usize = 256;
/// Most bytes of HTML handed to the parser (the probe's body cap is larger; a title sits at the
/// top of a page).
pub const PARSE_CAP: usize = 256 * 1024;

/// The facts of one page.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Page {
    /// `<title>` text, entities decoded, whitespace collapsed, printable.
    pub title: Option<String>,
    /// The `href` of the first `<link rel="icon">` (or `shortcut icon`, `apple-touch-icon`
    /// last), raw as written (resolved by the caller).
    pub icon_href: Option<String>,
}

/// Parses `body` (bytes of any encoding; invalid UTF-8 is replaced) into [`Page`].
pub fn parse(body: &[u8]) -> Page {
    let body = &body[..body.len().min(PARSE_CAP)];
    let text = String::from_utf8_lossy(body);
    let doc = Html::parse_document(&text);
    let title = Selector::parse("title").ok().and_then(|sel| {
        doc.select(&sel)
            .map(|t| t.text().collect::<String>())
            .map(|t| collapse(&t))
            .find(|t| !t.is_empty())
    });
    let icon_href = Selector::parse("link[rel][href]").ok().and_then(|sel| {
        let mut fallback = None;
        for link in doc.select(&sel) {
            let rel = link.value().attr("rel").unwrap_or("").to_ascii_lowercase();
            let href = link.value().attr("href").unwrap_or("").trim();
            if href.is_empty() {
                continue;
            }
            let words: Vec<&str> = rel.split_ascii_whitespace().collect();
            if words.contains(&"icon") {
                return Some(href.chars().take(2048).collect::<String>());
            }
            if fallback.is_none() && words.contains(&"apple-touch-icon") {
                fallback = Some(href.chars().take(2048).collect::<String>());
            }
        }
        fallback
    });
    Page {
        title: title.map(|t| printable(truncate(&t, TITLE_CAP).as_bytes(), TITLE_CAP * 4)),
        icon_href,
    }
}

fn collapse(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn truncate(s: &str, cap: usize) -> &str {
    if s.len() <= cap {
        return s;
    }
    let mut end = cap;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn titles_from_untidy_pages() {
        let p = parse(b"<HTML><HEAD><TITLE>Orthanc  Explorer\n</TITLE></HEAD></HTML>");
        assert_eq!(p.title.as_deref(), Some("Orthanc Explorer"));
        let p = parse(b"<title>OpenEMR &amp; Login</title>");
        assert_eq!(p.title.as_deref(), Some("OpenEMR & Login"));
        let p = parse(b"<html><title>\x1b[2Jevil\xff</title>");
        let t = p.title.unwrap();
        assert!(!t.chars().any(char::is_control), "{t}");
        assert!(parse(b"").title.is_none());
        assert!(parse(b"<title>   </title>").title.is_none());
        let long = format!("<title>{}</title>", "\u{e9}".repeat(1000));
        assert!(parse(long.as_bytes()).title.unwrap().len() <= TITLE_CAP);
    }

    #[test]
    fn icon_links() {
        let p = parse(b"<link rel=stylesheet href=a.css><LINK REL=\"Shortcut Icon\" HREF=\"images/favicon.ico\">");
        assert_eq!(p.icon_href.as_deref(), Some("images/favicon.ico"));
        let p = parse(b"<link rel=apple-touch-icon href=/t.png><link rel=icon href=/i.png>");
        assert_eq!(p.icon_href.as_deref(), Some("/i.png"));
        assert!(parse(b"<link rel=icon>").icon_href.is_none());
    }

    proptest::proptest! {
        #[test]
        fn any_bytes_give_a_bounded_printable_title(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..2048)) {
            let mut page = b"<title>".to_vec();
            page.extend(&bytes);
            let p = parse(&page);
            if let Some(t) = p.title {
                proptest::prop_assert!(t.len() <= TITLE_CAP * 4);
                proptest::prop_assert!(!t.chars().any(char::is_control));
            }
            let _ = parse(&bytes);
        }
    }
}
