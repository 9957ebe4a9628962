//! SNS, as far as its signatures go: a signing certificate served on 127.0.0.1 (the bot is pointed at it with
//! `SNS_CERT_URL_PREFIX`) and notifications signed with its key (`tests/fixtures/sns/`, for tests only). The
//! string to sign is written out here as AWS documents it, not taken from the code under test.

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{RsaKeyPair, RSA_PKCS1_SHA256};
use axum::routing::get;
use axum::Router;
use base64::Engine as _;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::PrivatePkcs8KeyDer;
use serde_json::{json, Value};

use crate::support::repo_root;

const CERT_PATH: &str = "test-signing-cert.pem";

pub struct SnsSigner {
    /// `http://127.0.0.1:PORT/`: what `SNS_CERT_URL_PREFIX` must be.
    pub url_prefix: String,
    key: RsaKeyPair,
}

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(repo_root().join("tests/fixtures/sns").join(name)).unwrap()
}

impl SnsSigner {
    /// Serve the certificate; every request for it is answered the same.
    pub async fn start() -> SnsSigner {
        let cert = fixture(CERT_PATH);
        let app = Router::new().route(
            &format!("/{CERT_PATH}"),
            get(move || {
                let cert = cert.clone();
                async move { cert }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        let pkcs8 = PrivatePkcs8KeyDer::from_pem_slice(&fixture("test-signing-key.pem")).unwrap();
        SnsSigner {
            url_prefix: format!("http://{addr}/"),
            key: RsaKeyPair::from_pkcs8(pkcs8.secret_pkcs8_der()).unwrap(),
        }
    }

    /// The environment that makes the bot verify against this certificate and believe `topic`.
    pub fn bot_env(&self, topic: &str) -> Vec<(String, String)> {
        [
            ("SNS_SIGNATURES", "verify"),
            ("TOPIC_ARN", topic),
            ("SNS_CERT_URL_PREFIX", self.url_prefix.as_str()),
        ]
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .to_vec()
    }

    /// A `SignatureVersion` 2 notification of `message` (an EventBridge event, say) from `topic`.
    pub fn notification(&self, topic: &str, message: &str) -> String {
        let mut n = json!({
            "Type": "Notification",
            "MessageId": format!("{:x}", fastrand_u128()),
            "TopicArn": topic,
            "Message": message,
            "Timestamp": "2026-11-20T09:00:02.000Z",
            "SignatureVersion": "2",
            "SigningCertURL": format!("{}{CERT_PATH}", self.url_prefix),
            "UnsubscribeURL": "https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe",
        });
        let to_sign: String = ["Message", "MessageId", "Timestamp", "TopicArn", "Type"]
            .iter()
            .map(|k| format!("{k}\n{}\n", n[k].as_str().unwrap()))
            .collect();
        let mut signature = vec![0; self.key.public_modulus_len()];
        self.key
            .sign(
                &RSA_PKCS1_SHA256,
                &SystemRandom::new(),
                to_sign.as_bytes(),
                &mut signature,
            )
            .unwrap();
        n["Signature"] = json!(base64::engine::general_purpose::STANDARD.encode(signature));
        n.to_string()
    }

    /// The committed `SignatureVersion` 1 (SHA1) notification, its certificate URL pointed at this server.
    pub fn v1_notification(&self) -> String {
        let mut n: Value =
            serde_json::from_slice(&fixture("notification-v1-DeleteUser.json")).unwrap();
        n["SigningCertURL"] = json!(format!("{}{CERT_PATH}", self.url_prefix));
        n.to_string()
    }
}

fn fastrand_u128() -> u128 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u8(0);
    u128::from(h.finish())
}
