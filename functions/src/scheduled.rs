//! `scheduled-obligations-refresh`: on a cron schedule, one `fetch-obligations` event per
//! credential. Each fetch runs as its own run (serialised per credential like every other
//! run), sends `BATCH_PROCESS_DIRECT` headers (no user started it) and skips expired
//! credentials.

use inngest::{Context, Function, FunctionConfigError, Trigger};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::events::{self, ids};
use crate::{Deps, ScheduledRefresh};

/// Events per `fan-out` step (Inngest accepts up to 5000 per request).
const FAN_OUT_BATCH: usize = 500;

pub(crate) fn function(
    deps: Deps,
    refresh: ScheduledRefresh,
) -> Result<Function, FunctionConfigError> {
    let lister = refresh.credentials.clone();
    Function::builder(ids::SCHEDULED_OBLIGATIONS_REFRESH)
        .name("Refresh HMRC obligations of every connected user")
        .trigger(Trigger::cron(refresh.cron))
        .retries(deps.settings.retries)
        .build(move |ctx: Context<Value>| {
            let lister = lister.clone();
            async move {
                let credentials: Vec<Uuid> = ctx
                    .step
                    .run("list-credentials", move || async move {
                        lister.list().await.map_err(|e| {
                            inngest::Error::new(format!(
                                "listing the credentials to refresh failed: {e}"
                            ))
                        })
                    })
                    .await?;
                let mut sent = 0;
                for batch in credentials.chunks(FAN_OUT_BATCH) {
                    let fetches = batch
                        .iter()
                        .map(|id| events::scheduled_obligations_fetch(*id, &ctx.run_id))
                        .collect();
                    sent += ctx.step.send_events("fan-out", fetches).await?.ids.len();
                }
                Ok(json!({ "credentials": credentials.len(), "fetches_sent": sent }))
            }
        })
}
