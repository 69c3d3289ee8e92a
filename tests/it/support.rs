//! The stack every test starts, and helpers.

use std::time::Duration;

use chrono::NaiveDate;
use hmrc_mtd::TaxYear;
use mtd::driver::{Decision, Driver};
use mtd::embedded::{Embedded, EmbeddedOptions};
use tempfile::TempDir;

/// How long a test waits for a run.
pub(crate) const RUN_TIMEOUT: Duration = Duration::from_secs(30);

/// The embedded stack in a temporary data directory.
pub(crate) struct Stack {
    pub(crate) embedded: Embedded,
    _dir: TempDir,
}

impl Stack {
    /// Ephemeral ports, time 1000x faster (a retry's backoff passes in milliseconds).
    pub(crate) async fn start() -> Self {
        Self::start_with(|_| {}).await
    }

    pub(crate) async fn start_with(configure: impl FnOnce(&mut EmbeddedOptions)) -> Self {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let mut options = EmbeddedOptions::demo(dir.path().join(".mtd"));
        options.time_scale = 1000.0;
        configure(&mut options);
        let embedded = Embedded::start(options).await.expect("the stack starts");
        Self {
            embedded,
            _dir: dir,
        }
    }

    pub(crate) fn driver(&self) -> Driver<'_> {
        Driver::new(&self.embedded, RUN_TIMEOUT)
    }

    /// A driver whose HMRC account is connected.
    pub(crate) async fn connected(&self) -> Driver<'_> {
        let driver = self.driver();
        let page = driver.connect(Decision::Grant).await.expect("connect");
        assert!(
            page.body.contains("Your HMRC account is connected"),
            "{}",
            page.body
        );
        driver
    }

    pub(crate) fn business_id(&self) -> String {
        self.embedded.hmrc_user.self_employment_id.clone()
    }

    pub(crate) async fn stop(self) {
        self.embedded.shutdown().await;
    }
}

/// A cumulative period HMRC accepts today: from the start of the tax year to the end of the
/// latest quarter that has ended (or ends within HMRC's 10 days), in this tax year or, early
/// in a tax year, the previous one.
pub(crate) fn due_period() -> (NaiveDate, NaiveDate) {
    let today = chrono::Utc::now().date_naive();
    let this_year = TaxYear::containing(today).expect("today is in a tax year");
    for year in [this_year, this_year.previous().expect("a previous year")] {
        if let Some(q) = year
            .quarters()
            .iter()
            .rev()
            .find(|q| q.end <= today + chrono::TimeDelta::days(10))
        {
            return (year.start_date(), q.end);
        }
    }
    panic!("no quarter of the last two tax years has ended")
}
