//! Sends events to Inngest (the Dev Server with `INNGEST_DEV=1`, or Inngest Cloud with
//! `INNGEST_EVENT_KEY`).
//!
//! ```sh
//! INNGEST_DEV=1 cargo run -p inngest-sdk --example send_events
//! ```

use anyhow::Context as _;
use inngest::{Event, Inngest};
use serde_json::json;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let client = Inngest::new("inngest-rs-example")
        .context("configure Inngest (set INNGEST_DEV=1 for the Dev Server)")?;

    let one = client
        .send(&Event::new(
            "example/user.signed_up",
            json!({ "user_id": "u-1", "email": "ada@example.com" }),
        ))
        .await?;
    println!("signed_up event id: {:?}", one.ids);

    let many = client
        .send_many(&[
            Event::new(
                "example/payment.requested",
                json!({ "amount_pence": 1250, "account_id": "a-1" }),
            )
            .id("payment-0001"), // an idempotency key: resending it is a no-op
            Event::new(
                "example/payment.requested",
                json!({ "amount_pence": -5, "account_id": "a-2" }),
            ),
            Event::new("example/report.requested", json!({})),
            Event::new("example/invoke.requested", json!({ "n": 21 })),
        ])
        .await?;
    println!("batch event ids: {:?}", many.ids);
    Ok(())
}
