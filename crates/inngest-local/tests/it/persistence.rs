//! Runs and apps kept in SQLite survive a restart, and unfinished runs carry on.

use inngest_local::RunStatus;
use serde_json::json;

use crate::harness::{
    Mode, RUN_TIMEOUT, Sdk, engine, event, run_of, run_to_end, send, sync, wait_parked,
};

sdk_cases!(runs_and_apps_survive_a_restart_with_sqlite);

async fn runs_and_apps_survive_a_restart_with_sqlite(sdk: Sdk) {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("runs.sqlite");

    let first = engine().db(&db).start().await.unwrap();
    let app = sdk.start(&first.url(), &Mode::Dev, false).await;
    sync(&first, app.as_ref()).await;
    let done = run_to_end(
        &first,
        &app.function_id("serial"),
        event("test/serial", json!({"start": 1})),
    )
    .await;
    let ids = send(&first, "k", event("test/cancellable", json!({"id": 5}))).await;
    let parked = run_of(&first, &app.function_id("cancellable"), &ids[0]).await;
    wait_parked(&first, &parked.id, "long-nap").await;
    first.shutdown().await;

    // No sync: functions come back from the database.
    let second = engine().db(&db).start().await.unwrap();
    assert!(second.apps().iter().any(|a| a.id == app.app_id()));
    let restored = second
        .run(&done.id)
        .expect("the finished run is in the history");
    assert_eq!(restored.status, RunStatus::Completed);
    assert_eq!(restored.output, done.output);
    assert_eq!(restored.calls.len(), done.calls.len());
    let sleeping = second
        .run(&parked.id)
        .expect("the sleeping run is restored");
    assert_eq!(sleeping.status, RunStatus::Running);
    assert_eq!(sleeping.waiting.len(), 1);
    // The restored run still obeys its cancel-on rule.
    second.send_event(event("test/cancel", json!({"id": 5})));
    let cancelled = second.wait_for_run(&parked.id, RUN_TIMEOUT).await.unwrap();
    assert_eq!(cancelled.status, RunStatus::Cancelled);
    second.shutdown().await;
}
