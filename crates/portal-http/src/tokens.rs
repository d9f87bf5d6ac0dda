//! The bearer tokens that may use a node's editor and operator APIs, kept as SHA-256 digests
//! and compared in constant time. A token is never logged.

use actix_web::HttpRequest;
use actix_web::http::header;
use portal_proto::ids::Digest;
use subtle::ConstantTimeEq;

/// The accepted tokens' digests.
#[derive(Debug, Clone, Default)]
pub struct Tokens {
    digests: Vec<[u8; 32]>,
}

impl Tokens {
    /// Accept the tokens whose SHA-256 digests are `digests`.
    pub fn from_digests(digests: impl IntoIterator<Item = Digest>) -> Tokens {
        Tokens { digests: digests.into_iter().map(|d| d.to_bytes()).collect() }
    }

    /// Also accept `token` (given in clear, kept as its digest).
    pub fn accept(&mut self, token: &str) {
        self.digests.push(Digest::of(token.as_bytes()).to_bytes());
    }

    /// Whether `req` carries `Authorization: Bearer <an accepted token>`.
    pub fn authorized(&self, req: &HttpRequest) -> bool {
        let Some(token) = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
        else {
            return false;
        };
        let presented = Digest::of(token.trim().as_bytes()).to_bytes();
        // Compare against every accepted token in constant time.
        let mut ok = subtle::Choice::from(0u8);
        for t in &self.digests {
            ok |= presented.ct_eq(t);
        }
        bool::from(ok)
    }
}
