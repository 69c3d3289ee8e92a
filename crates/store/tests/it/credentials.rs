use std::time::Duration;

use chrono::Utc;
use mtd_store::{
    AccessToken, BeginRefresh, CompleteRefresh, CredentialStatus, ExpireOutcome, RefreshToken,
    StoreError, TokenPair,
};

use crate::support::{OTHER_KEY, TEST_KEY, both_backends, contains, keyring};

pub(crate) fn pair(access: &str, refresh: &str) -> TokenPair {
    TokenPair::from_expires_in(
        AccessToken::new(access),
        RefreshToken::new(refresh),
        14_400,
        Utc::now(),
    )
}

both_backends! {
    async fn connecting_stores_a_credential_and_reconnecting_replaces_and_reactivates_it(db) {
        let store = db.store().await;
        let creds = store.credentials();
        let first = creds.connect("user-1", "AA123456A", &pair("a1", "r1").with_scope("read:self-assessment write:self-assessment")).await.expect("connect");
        assert!(!first.reconnected);
        let c = &first.credential;
        assert_eq!((c.user_id.as_str(), c.nino.as_str(), c.version), ("user-1", "AA123456A", 1));
        assert_eq!(c.status, CredentialStatus::Active);
        assert_eq!(c.scope.as_deref(), Some("read:self-assessment write:self-assessment"));
        assert_eq!(c.reconnected_at, None);

        let expired = creds.expire_unless_replaced(c.id, 1, "refresh answered 400 invalid_grant").await.expect("expire");
        assert!(matches!(expired, ExpireOutcome::Expired(_)));

        let again = creds.connect("user-1", "AA123456A", &pair("a2", "r2")).await.expect("reconnect");
        assert!(again.reconnected);
        assert_eq!(again.credential.id, c.id);
        assert_eq!(again.credential.version, 3);
        assert_eq!(again.credential.status, CredentialStatus::Active);
        assert!(again.credential.reconnected_at.is_some());
        assert_eq!(again.credential.connected_at, c.connected_at);
        assert_eq!(creds.stored_access(c.id).await.expect("read").access_token.expose_secret(), "a2");

        let other = creds.connect("user-1", "BB123456B", &pair("b1", "rb1")).await.expect("second nino");
        assert_ne!(other.credential.id, c.id);
        assert_eq!(creds.list_for_user("user-1").await.expect("list").len(), 2);
        assert_eq!(creds.find("user-1", "BB123456B").await.expect("find").map(|c| c.id), Some(other.credential.id));
        assert_eq!(creds.find("user-2", "AA123456A").await.expect("find"), None);
    }

    async fn active_credentials_are_listed_a_page_at_a_time_without_the_expired_ones(db) {
        let store = db.store().await;
        let creds = store.credentials();
        let mut active = Vec::new();
        for (i, nino) in ["AA111111A", "AB222222B", "AC333333C", "AD444444D", "AE555555E"].iter().enumerate() {
            let c = creds.connect(&format!("user-{i}"), nino, &pair("a", "r")).await.expect("connect").credential;
            if i == 2 {
                creds.expire_unless_replaced(c.id, c.version, "revoked").await.expect("expire");
            } else {
                active.push(c.id);
            }
        }
        active.sort();
        let mut listed = Vec::new();
        let mut after = None;
        loop {
            let page = creds.list_active(after, 2).await.expect("page");
            assert!(page.len() <= 2);
            assert!(page.iter().all(|c| c.status == CredentialStatus::Active));
            listed.extend(page.iter().map(|c| c.id));
            match page.last() {
                Some(last) if page.len() == 2 => after = Some(last.id),
                _ => break,
            }
        }
        assert_eq!(listed, active, "every active credential once, in id order");
    }

    async fn tokens_round_trip_through_encryption(db) {
        let store = db.store().await;
        let id = store.credentials().connect("user-1", "AA123456A", &pair("access-é-1", "refresh-1")).await.expect("connect").credential.id;
        let access = store.credentials().stored_access(id).await.expect("decrypt");
        assert_eq!(access.access_token, AccessToken::new("access-é-1"));
        assert_eq!(access.credential.token_key_id, "k1");
        let BeginRefresh::Claimed(lease) = store.credentials().begin_refresh(id, 1, Duration::from_secs(60), "t").await.expect("claim") else {
            panic!("the lease is free");
        };
        assert_eq!(lease.refresh_token, RefreshToken::new("refresh-1"));
    }

    async fn no_token_is_stored_in_plaintext(db) {
        let store = db.store().await;
        let access_1 = "PLAINTEXT-ACCESS-TOKEN-4f1c2b";
        let refresh_1 = "PLAINTEXT-REFRESH-TOKEN-9e8d7a";
        let access_2 = "PLAINTEXT-ACCESS-TOKEN-ROTATED-77aa";
        let refresh_2 = "PLAINTEXT-REFRESH-TOKEN-ROTATED-88bb";
        let id = store.credentials().connect("user-plain", "ZZ998877Z", &pair(access_1, refresh_1)).await.expect("connect").credential.id;
        let BeginRefresh::Claimed(lease) = store.credentials().begin_refresh(id, 1, Duration::from_secs(60), "t").await.expect("claim") else {
            panic!("the lease is free");
        };
        let done = store.credentials().complete_refresh(&lease, &pair(access_2, refresh_2)).await.expect("complete");
        assert!(matches!(done, CompleteRefresh::Completed(_)));
        store.close().await;

        let raw = db.raw_dump().await;
        assert!(contains(&raw, b"ZZ998877Z"), "the dump sees the credential row");
        for token in [access_1, refresh_1, access_2, refresh_2] {
            assert!(!contains(&raw, token.as_bytes()), "{token} found in plaintext");
            let hex: String = token.bytes().map(|b| format!("{b:02x}")).collect();
            assert!(!contains(&raw, hex.as_bytes()), "{token} found hex-encoded");
        }
    }

    async fn a_wrong_key_is_a_clear_error_and_never_plaintext(db) {
        let writer = db.store().await;
        let id = writer.credentials().connect("user-1", "AA123456A", &pair("secret-access", "secret-refresh")).await.expect("connect").credential.id;
        let wrong = db.store_with(|c| c.keyring(keyring("k1", OTHER_KEY))).await;
        let err = wrong.credentials().stored_access(id).await.expect_err("wrong key");
        assert!(matches!(&err, StoreError::Decrypt { key_id } if key_id == "k1"), "{err}");
        let message = format!("{err} {err:?}");
        assert!(!message.contains("secret-access") && !message.contains(OTHER_KEY), "{message}");
        let refresh = wrong.credentials().begin_refresh(id, 1, Duration::from_secs(60), "t").await;
        assert!(matches!(refresh, Err(StoreError::Decrypt { .. })), "{refresh:?}");
        // The failed claim released its lease: the right key can still refresh at once.
        assert!(matches!(
            writer.credentials().begin_refresh(id, 1, Duration::from_secs(60), "t").await.expect("claim"),
            BeginRefresh::Claimed(_)
        ));
    }

    async fn a_key_id_missing_from_the_keyring_is_a_clear_error(db) {
        let writer = db.store().await;
        let id = writer.credentials().connect("user-1", "AA123456A", &pair("a", "r")).await.expect("connect").credential.id;
        let other = db.store_with(|c| c.keyring(keyring("k2", OTHER_KEY))).await;
        let err = other.credentials().stored_access(id).await.expect_err("k1 is not configured");
        assert!(matches!(&err, StoreError::UnknownKey { key_id } if key_id == "k1"), "{err}");
        assert!(err.to_string().contains("add that key"), "{err}");
    }

    async fn without_a_keyring_credentials_fail_clearly_and_the_rest_works(db) {
        let store = db.store_with(|c| c).await;
        let err = store.credentials().connect("user-1", "AA123456A", &pair("a", "r")).await.expect_err("no keyring");
        assert!(matches!(err, StoreError::NoKeyring), "{err}");
        assert!(err.to_string().contains("MTD_TOKEN_KEYS"), "{err}");
        let id = db.store().await.credentials().connect("user-1", "AA123456A", &pair("a", "r")).await.expect("connect").credential.id;
        assert!(matches!(store.credentials().stored_access(id).await, Err(StoreError::NoKeyring)));
        assert!(store.credentials().get(id).await.expect("metadata needs no key").is_some());
        assert_eq!(store.notifications().unread_count("user-1").await.expect("works"), 0);
    }

    async fn a_ciphertext_moved_to_another_credential_does_not_decrypt(db) {
        let store = db.store().await;
        let a = store.credentials().connect("user-a", "AA111111A", &pair("token-of-a", "refresh-of-a")).await.expect("a").credential.id;
        store.credentials().connect("user-b", "BB222222B", &pair("token-of-b", "refresh-of-b")).await.expect("b");
        db.raw_execute(
            "UPDATE credentials SET access_token_enc = \
             (SELECT access_token_enc FROM credentials WHERE user_id = 'user-b') WHERE user_id = 'user-a'",
        ).await.expect("raw swap");
        let err = store.credentials().stored_access(a).await.expect_err("bound to its row");
        assert!(matches!(err, StoreError::Decrypt { .. }), "{err}");
        // Nor does the refresh ciphertext of the same row pass as its access token.
        db.raw_execute(
            "UPDATE credentials SET access_token_enc = refresh_token_enc WHERE user_id = 'user-b'",
        ).await.expect("raw swap");
        let b = store.credentials().find("user-b", "BB222222B").await.expect("find").expect("exists").id;
        assert!(matches!(store.credentials().stored_access(b).await, Err(StoreError::Decrypt { .. })));
    }

    async fn rotating_keys_reencrypts_every_credential_with_the_current_key(db) {
        let old = db.store().await;
        let mut ids = Vec::new();
        for n in 0..3 {
            let nino = format!("AA00000{n}A");
            ids.push(old.credentials().connect("user-1", &nino, &pair(&format!("a{n}"), &format!("r{n}"))).await.expect("connect").credential.id);
        }
        let rotating = db.store_with(|c| c.keyring(
            keyring("k2", OTHER_KEY).with_old_key("k1", mtd_store::EncryptionKey::from_base64(TEST_KEY).expect("key")).expect("ring"),
        )).await;
        assert_eq!(rotating.credentials().stored_access(ids[0]).await.expect("old key still decrypts").access_token.expose_secret(), "a0");
        assert_eq!(rotating.credentials().key_usage().await.expect("usage"), vec![("k1".to_owned(), 3)]);
        let report = rotating.credentials().rotate_keys(2).await.expect("rotate");
        assert_eq!(report.reencrypted, 3);
        assert_eq!(rotating.credentials().key_usage().await.expect("usage"), vec![("k2".to_owned(), 3)]);
        assert_eq!(rotating.credentials().rotate_keys(2).await.expect("again").reencrypted, 0);
        let only_new = db.store_with(|c| c.keyring(keyring("k2", OTHER_KEY))).await;
        for (n, id) in ids.iter().enumerate() {
            let access = only_new.credentials().stored_access(*id).await.expect("new key decrypts");
            assert_eq!(access.access_token.expose_secret(), format!("a{n}"));
            assert_eq!(access.credential.version, 1, "rotation is not a token change");
        }
    }

    async fn a_401_on_a_token_nobody_replaced_expires_the_credential_once(db) {
        let store = db.store().await;
        let id = store.credentials().connect("user-1", "AA123456A", &pair("a", "r")).await.expect("connect").credential.id;
        assert!(!store.credentials().was_replaced(id, 1).await.expect("check"));
        let outcome = store.credentials().expire_unless_replaced(id, 1, "HMRC 401 INVALID_CREDENTIALS").await.expect("expire");
        let ExpireOutcome::Expired(credential) = outcome else { panic!("expired: {outcome:?}") };
        let CredentialStatus::Expired { reason, .. } = &credential.status else { panic!("status") };
        assert_eq!(reason, "HMRC 401 INVALID_CREDENTIALS");
        assert_eq!(credential.version, 2);
        let again = store.credentials().expire_unless_replaced(id, 1, "retried step").await.expect("idempotent");
        assert!(matches!(again, ExpireOutcome::AlreadyExpired(_)) && again.is_expired());
        let CredentialStatus::Expired { reason, .. } = &again.credential().status else { panic!("status") };
        assert_eq!(reason, "HMRC 401 INVALID_CREDENTIALS", "the first reason is kept");
    }

    async fn a_401_after_someone_else_refreshed_is_not_permanent(db) {
        let store = db.store().await;
        let creds = store.credentials();
        let id = creds.connect("user-1", "AA123456A", &pair("a1", "r1")).await.expect("connect").credential.id;
        let used = creds.stored_access(id).await.expect("read");
        let BeginRefresh::Claimed(lease) = creds.begin_refresh(id, used.version(), Duration::from_secs(60), "other-run").await.expect("claim") else {
            panic!("free");
        };
        // Another run is refreshing: HMRC has (or is about to have) killed our token.
        assert!(creds.was_replaced(id, used.version()).await.expect("check"));
        let during = creds.expire_unless_replaced(id, used.version(), "HMRC 401").await.expect("outcome");
        assert!(matches!(during, ExpireOutcome::RefreshInProgress(_)) && !during.is_expired());
        creds.complete_refresh(&lease, &pair("a2", "r2")).await.expect("complete");
        // The other run has refreshed: our 401 came from that.
        let after = creds.expire_unless_replaced(id, used.version(), "HMRC 401").await.expect("outcome");
        assert!(matches!(after, ExpireOutcome::Replaced(_)) && !after.is_expired());
        let credential = creds.get(id).await.expect("get").expect("exists");
        assert!(credential.is_active());
        assert_eq!(credential.version, used.version() + 1);
    }
}
