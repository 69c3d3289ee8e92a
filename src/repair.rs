//! `mtd repair-history`: relabels `rejected` submissions that were really authorisation
//! failures (stored that way before the failure table became the rule) as `failed`, with a
//! history entry and a notification each. A dry run unless `--apply`.

use std::path::Path;

use mtd_store::{RepairOptions, RepairReport, Store, StoreConfig};

/// Why the repair did not run.
#[derive(Debug, thiserror::Error)]
pub enum RepairError {
    /// The SQLite file does not exist (the repair never creates a database).
    #[error(
        "there is no database at {0}: pass --database-url (or DATABASE_URL) with the path or postgres:// URL of the database to repair"
    )]
    NoDatabase(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] mtd_store::StoreError),
    /// The report could not be written as JSON.
    #[error("cannot write the report as JSON: {0}")]
    Json(#[from] serde_json::Error),
}

fn is_url(location: &str) -> bool {
    location.contains("://") || location.starts_with("sqlite:")
}

/// Runs the repair (`apply` = change the records) and returns the report.
pub async fn repair(location: &str, apply: bool) -> Result<RepairReport, RepairError> {
    if !is_url(location) && !Path::new(location).exists() {
        return Err(RepairError::NoDatabase(location.to_owned()));
    }
    let store = Store::open(StoreConfig::new(location)).await?;
    let options = if apply {
        RepairOptions::apply()
    } else {
        RepairOptions::dry_run()
    };
    let report = store.repair_history(&options).await;
    store.close().await;
    Ok(report?)
}

/// The report as the command prints it: readable text, or JSON.
pub fn render(report: &RepairReport, json: bool) -> Result<String, RepairError> {
    if json {
        Ok(serde_json::to_string_pretty(report)?)
    } else {
        Ok(report.to_string().trim_end().to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_missing_database_file_is_not_created() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("absent.db");
        let err = repair(&path.to_string_lossy(), false).await.unwrap_err();
        assert!(err.to_string().contains("--database-url"), "{err}");
        assert!(!path.exists());
    }
}
