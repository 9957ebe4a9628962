//! Only SNS speaks to the bot: every queue message must be an SNS message signed by SNS, from one of our topics
//! (`TOPIC_ARN`). The signed fields, the string SNS signed and the rules for the certificate's URL are the core's
//! (`iam_alarm_core::sns`); here the signing certificate is fetched (cached by URL) and the RSA signature is
//! checked with the same crypto library the AWS SDK's TLS uses.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_lc_rs::signature::{
    UnparsedPublicKey, VerificationAlgorithm, RSA_PKCS1_2048_8192_SHA1_FOR_LEGACY_USE_ONLY,
    RSA_PKCS1_2048_8192_SHA256,
};
use base64::Engine as _;
use iam_alarm_core::sns::{Digest, Policy, Rejected, SignedMessage};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::CertificateDer;

/// How long fetching a signing certificate may take.
const FETCH_TIMEOUT: Duration = Duration::from_secs(5);
/// SNS rotates its certificate rarely; a few cached are plenty, and the cache cannot grow without bound.
const CACHE_MAX: usize = 16;

/// What to make of one queue message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Trust {
    Believed,
    /// Not from SNS, or not from our topic: never posted, deleted, counted, announced.
    Rejected(Rejected),
    /// The signing certificate could not be fetched: the message waits (released for a retry), never believed
    /// unverified.
    Unverifiable(String),
}

/// `SNS_SIGNATURES`: `verify` (the default) or `off` (emulators such as moto sign nothing real).
pub struct Verifier(Option<Checker>);

struct Checker {
    policy: Policy,
    http: reqwest::Client,
    /// Signing certificate URL → its subject public key info (DER).
    keys: Mutex<HashMap<String, Arc<Vec<u8>>>>,
}

impl Verifier {
    pub fn verify(policy: Policy) -> Verifier {
        let http = reqwest::Client::builder()
            .timeout(FETCH_TIMEOUT)
            .build()
            .expect("a TLS client builds");
        Verifier(Some(Checker {
            policy,
            http,
            keys: Mutex::new(HashMap::new()),
        }))
    }

    pub fn off() -> Verifier {
        Verifier(None)
    }

    pub fn is_off(&self) -> bool {
        self.0.is_none()
    }

    /// Whether `body` comes from SNS, from one of our topics, unaltered.
    pub async fn check(&self, body: &str) -> Trust {
        match &self.0 {
            Some(checker) => checker.check(body).await,
            None => Trust::Believed,
        }
    }
}

impl Checker {
    async fn check(&self, body: &str) -> Trust {
        let message = match SignedMessage::read(body, &self.policy) {
            Ok(m) => m,
            Err(why) => return Trust::Rejected(why),
        };
        let key = match self.public_key(&message.signing_cert_url).await {
            Ok(key) => key,
            Err(why) => return Trust::Unverifiable(why),
        };
        if signature_holds(&message, &key) {
            Trust::Believed
        } else {
            Trust::Rejected(Rejected::BadSignature)
        }
    }

    /// The certificate's public key, from the cache or fetched.
    async fn public_key(&self, url: &str) -> Result<Arc<Vec<u8>>, String> {
        if let Some(key) = lock(&self.keys).get(url) {
            return Ok(Arc::clone(key));
        }
        let pem = fetch(&self.http, url).await?;
        let key = Arc::new(public_key_of(&pem)?);
        let mut keys = lock(&self.keys);
        if keys.len() >= CACHE_MAX {
            keys.clear();
        }
        keys.insert(url.to_owned(), Arc::clone(&key));
        Ok(key)
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

async fn fetch(http: &reqwest::Client, url: &str) -> Result<Vec<u8>, String> {
    let response = http
        .get(url)
        .send()
        .await
        .and_then(reqwest::Response::error_for_status)
        .map_err(|e| {
            format!(
                "cannot fetch the signing certificate {url}: {}",
                e.without_url()
            )
        })?;
    let body = response.bytes().await.map_err(|e| {
        format!(
            "cannot read the signing certificate {url}: {}",
            e.without_url()
        )
    })?;
    Ok(body.to_vec())
}

/// The subject public key info of a PEM certificate.
fn public_key_of(pem: &[u8]) -> Result<Vec<u8>, String> {
    let der = CertificateDer::from_pem_slice(pem)
        .map_err(|e| format!("the signing certificate is not PEM: {e}"))?;
    let cert = webpki::EndEntityCert::try_from(&der)
        .map_err(|e| format!("the signing certificate does not parse: {e}"))?;
    Ok(cert.subject_public_key_info().as_ref().to_vec())
}

/// RSA PKCS#1 v1.5 over the string SNS signed, with SHA-1 (`SignatureVersion` 1) or SHA-256 (2).
fn signature_holds(message: &SignedMessage, public_key: &[u8]) -> bool {
    let algorithm: &'static dyn VerificationAlgorithm = match message.digest() {
        Some(Digest::Sha1) => &RSA_PKCS1_2048_8192_SHA1_FOR_LEGACY_USE_ONLY,
        Some(Digest::Sha256) => &RSA_PKCS1_2048_8192_SHA256,
        None => return false,
    };
    let Ok(signature) = base64::engine::general_purpose::STANDARD.decode(&message.signature) else {
        return false;
    };
    UnparsedPublicKey::new(algorithm, public_key)
        .verify(message.string_to_sign().as_bytes(), &signature)
        .is_ok()
}
