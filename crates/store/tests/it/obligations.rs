use chrono::{TimeDelta, Utc};
use serde_json::json;

use crate::support::both_backends;

both_backends! {
    async fn the_latest_fetch_per_business_is_cached_and_an_older_one_never_replaces_it(db) {
        let store = db.store().await;
        let cache = store.obligations();
        assert_eq!(cache.get("user-1", "XAIS12345678901").await.expect("get"), None);
        let t1 = Utc::now();
        let first = json!({"obligations": [{"obligationDetails": [{"status": "open", "periodKey": "#001"}]}]});
        assert!(cache.put("user-1", "XAIS12345678901", "AA123456A", &first, t1).await.expect("put"));
        let newer = json!({"obligations": [{"obligationDetails": [{"status": "fulfilled", "periodKey": "#001"}]}]});
        assert!(cache.put("user-1", "XAIS12345678901", "AA123456A", &newer, t1 + TimeDelta::minutes(5)).await.expect("put"));
        let stale = json!({"obligations": []});
        assert!(!cache.put("user-1", "XAIS12345678901", "AA123456A", &stale, t1 + TimeDelta::minutes(1)).await.expect("put"), "an older fetch is ignored");
        let cached = cache.get("user-1", "XAIS12345678901").await.expect("get").expect("cached");
        assert_eq!(cached.obligations, newer);
        assert_eq!(cached.nino, "AA123456A");
        assert_eq!(cached.fetched_at.timestamp_micros(), (t1 + TimeDelta::minutes(5)).timestamp_micros());

        cache.put("user-1", "XPIS12345678902", "AA123456A", &first, t1).await.expect("second business");
        cache.put("user-2", "XAIS12345678901", "BB123456B", &first, t1).await.expect("other user");
        let listed: Vec<_> = cache.list_for_user("user-1").await.expect("list").into_iter().map(|c| c.business_id).collect();
        assert_eq!(listed, vec!["XAIS12345678901", "XPIS12345678902"]);
    }
}
