//! Access to `/v1/*`: with `--token-file`, a request needs `Authorization: Bearer <token>`.
//! Takes the token file; gives a check that compares in constant time and a token that cannot
//! be printed (its `Debug` hides it, so it never reaches a log line).

use std::path::Path;

use subtle::ConstantTimeEq;

use crate::error::{Error, Result};

pub struct Token(Vec<u8>);

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Token(<hidden>)")
    }
}

impl Token {
    /// Reads the token: the file's text without surrounding whitespace (a trailing newline is
    /// how editors and `echo` leave it). The text itself never appears in an error.
    pub fn read(path: &Path) -> Result<Token> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        let token = text.trim();
        let bad = |message: &str| Error::Data {
            path: path.to_path_buf(),
            message: message.to_string(),
        };
        if token.is_empty() {
            return Err(bad(
                "the token file is empty; put a long random token in it, e.g. \
                 `openssl rand -hex 32 > token`",
            ));
        }
        // What an HTTP header can carry as a bearer token (RFC 6750's b64token and more):
        // visible ASCII, no spaces.
        if !token.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(bad(
                "the token holds spaces, control or non-ASCII characters, which an \
                 Authorization header cannot carry; use e.g. `openssl rand -hex 32`",
            ));
        }
        Ok(Token(token.as_bytes().to_vec()))
    }

    /// Whether an `Authorization` header value carries this token. The scheme is matched
    /// without regard to case (RFC 7235); the token byte for byte in constant time, so the
    /// time taken does not tell how much of a guess was right (`subtle` compares lengths
    /// first, which only tells the length).
    pub fn accepts(&self, header: Option<&[u8]>) -> bool {
        let Some(h) = header else { return false };
        if h.len() < 7 || !h[..7].eq_ignore_ascii_case(b"bearer ") {
            return false;
        }
        let given = h[7..].trim_ascii();
        given.ct_eq(&self.0).into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_trims_and_checks_the_token() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("token");
        std::fs::write(&p, "s3cret-token\n").unwrap();
        let t = Token::read(&p).unwrap();
        assert!(t.accepts(Some(b"Bearer s3cret-token")));
        assert!(t.accepts(Some(b"bearer s3cret-token")));
        assert!(!t.accepts(Some(b"Bearer s3cret-toke")));
        assert!(!t.accepts(Some(b"Bearer s3cret-token2")));
        assert!(!t.accepts(Some(b"Basic s3cret-token")));
        assert!(!t.accepts(Some(b"s3cret-token")));
        assert!(!t.accepts(None));
        assert_eq!(format!("{t:?}"), "Token(<hidden>)");
        for bad in ["", "  \n", "two words"] {
            std::fs::write(&p, bad).unwrap();
            let e = Token::read(&p).unwrap_err().to_string();
            assert!(e.contains("token"), "{e}");
            assert!(!bad.trim().is_empty() || e.contains("empty"), "{e}");
        }
    }
}
