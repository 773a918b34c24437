#![allow(clippy::unwrap_used, clippy::expect_used)]

use audit::{AuditError, Checkpoint, LogSigner, VerifierKey, leaf_hash};

fn cp() -> Checkpoint {
    Checkpoint::new("crossroads.example/audit", 42, leaf_hash(b"root")).unwrap()
}

#[test]
fn sign_and_verify() {
    let signer = LogSigner::generate("crossroads.example").unwrap();
    let vkey = signer.verifier_key().to_string();
    let note = cp().sign(&signer);
    assert!(note.starts_with("crossroads.example/audit\n42\n"));
    assert!(note.contains("\n\n\u{2014} crossroads.example "));
    assert_eq!(Checkpoint::parse_and_verify(&note, &vkey).unwrap(), cp());
}

#[test]
fn key_strings_round_trip() {
    let signer = LogSigner::generate("log-1").unwrap();
    let s = signer.signer_key_string();
    assert!(s.starts_with("PRIVATE+KEY+log-1+"));
    let again = LogSigner::from_signer_key(&s).unwrap();
    assert_eq!(again.verifier_key(), signer.verifier_key());
    let v = signer.verifier_key().to_string();
    assert_eq!(VerifierKey::parse(&v).unwrap(), signer.verifier_key());
    assert!(!format!("{signer:?}").contains(&s[30..]));
    for bad in ["", "a+b", "a b", "a\tb"] {
        assert!(LogSigner::generate(bad).is_err(), "{bad:?}");
    }
    // A key hash that does not match the key is rejected.
    let mut parts: Vec<String> = v.split('+').map(str::to_owned).collect();
    parts[1] = "00000000".into();
    assert!(VerifierKey::parse(&parts.join("+")).is_err());
}

#[test]
fn known_key_hash_and_signature() {
    // Ed25519 is deterministic: a fixed seed gives fixed keys and signatures.
    let signer = LogSigner::from_seed("example.com/log", [7u8; 32]).unwrap();
    let a = cp().sign(&signer);
    let b = cp().sign(&signer);
    assert_eq!(a, b);
    let v = signer.verifier_key().to_string();
    let hash_hex = v.split('+').nth(1).unwrap();
    assert_eq!(hash_hex.len(), 8);
    assert_eq!(
        format!("{:08x}", signer.verifier_key().key_hash()),
        hash_hex
    );
}

#[test]
fn rejects_bad_notes() {
    let signer = LogSigner::generate("log").unwrap();
    let other = LogSigner::generate("other").unwrap();
    let same_name = LogSigner::generate("log").unwrap();
    let vkey = signer.verifier_key().to_string();
    let note = cp().sign(&signer);

    // Tampered body.
    let tampered = note.replacen("\n42\n", "\n43\n", 1);
    assert!(matches!(
        Checkpoint::parse_and_verify(&tampered, &vkey),
        Err(AuditError::BadSignature(_))
    ));
    // Signed by another key.
    assert!(matches!(
        Checkpoint::parse_and_verify(&cp().sign(&other), &vkey),
        Err(AuditError::UnknownKey(_))
    ));
    // Same name, different key: the key hash differs, so it is unknown.
    assert!(matches!(
        Checkpoint::parse_and_verify(&cp().sign(&same_name), &vkey),
        Err(AuditError::UnknownKey(_))
    ));
    // A witness signature besides ours is fine.
    let cosigned = format!(
        "{}{}",
        note,
        other
            .sign_note(&cp().to_body())
            .rsplit("\n\n")
            .next()
            .unwrap()
    );
    assert_eq!(
        Checkpoint::parse_and_verify(&cosigned, &vkey).unwrap(),
        cp()
    );
    // Malformed notes.
    for bad in [
        String::new(),
        cp().to_body(),
        note.trim_end().to_owned(),
        note.replace('\u{2014}', "-"),
        note.replace("\n\n", "\n"),
        note.replace("\n42\n", "\r\n42\n"),
    ] {
        assert!(
            Checkpoint::parse_and_verify(&bad, &vkey).is_err(),
            "{bad:?}"
        );
    }
    // Malformed bodies, properly signed.
    for body in [
        "origin\n042\nAAAA\n",
        "origin\n42\n",
        "\n42\nx\n",
        "origin\n-1\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n",
        "origin\n1\nAAAA\n",
    ] {
        let n = signer.sign_note(body);
        assert!(
            matches!(
                Checkpoint::parse_and_verify(&n, &vkey),
                Err(AuditError::MalformedNote(_))
            ),
            "{body:?}"
        );
    }
    assert!(Checkpoint::parse_and_verify(&note, "garbage").is_err());
}

#[test]
fn extension_lines() {
    let signer = LogSigner::generate("log").unwrap();
    let mut c = cp();
    c.extensions.push("timestamp 1700000000".into());
    let note = c.sign(&signer);
    let got = Checkpoint::parse_and_verify(&note, &signer.verifier_key().to_string()).unwrap();
    assert_eq!(got, c);
}

/// The signed-note example of Go's `golang.org/x/mod/sumdb/note` package.
#[test]
fn go_sumdb_note_known_answer() {
    let skey = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
    let vkey = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
    let text = "If you think cryptography is the answer to your problem,\n\
                then you don't know what your problem is.\n";
    let want = format!(
        "{text}\n\u{2014} PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"
    );
    let signer = LogSigner::from_signer_key(skey).unwrap();
    assert_eq!(signer.signer_key_string(), skey);
    assert_eq!(signer.verifier_key().to_string(), vkey);
    assert_eq!(signer.sign_note(text), want);
    let key = VerifierKey::parse(vkey).unwrap();
    assert_eq!(key.open_note(&want).unwrap(), text);
    // A verifier key whose base64 holds a '+' (transparency-dev/formats tests).
    let plus = "TEST+7997405c+AQcC+FTVKf0jlTdHDY3rbevmnKxxPjigCXlVtGe6RIr6";
    assert_eq!(VerifierKey::parse(plus).unwrap().to_string(), plus);
}

#[test]
fn many_generated_keys_round_trip() {
    for i in 0..50 {
        let signer = LogSigner::generate(&format!("log{i}")).unwrap();
        let again = LogSigner::from_signer_key(&signer.signer_key_string()).unwrap();
        let v = VerifierKey::parse(&again.verifier_key().to_string()).unwrap();
        assert_eq!(v, signer.verifier_key());
        let note = cp().sign(&again);
        assert_eq!(Checkpoint::parse_and_verify_with(&note, &v).unwrap(), cp());
    }
}
