#![doc = include_str!("docs/intro.md")]
#![doc = include_str!("docs/quick_start.md")]
#![doc = include_str!("docs/steps.md")]
#![doc = include_str!("docs/errors.md")]
#![doc = include_str!("docs/replay.md")]
#![doc = include_str!("docs/testing.md")]
#![doc = include_str!("docs/configuration.md")]
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod api;
pub mod client;
pub mod config;
pub mod error;
pub mod event;
mod exec;
pub mod function;
pub mod hash;
mod introspect;
pub mod op;
pub mod request;
pub mod serve;
pub mod signature;
pub mod step;
mod sync;
pub mod time;
pub mod trace;

pub use client::{ClientBuilder, Inngest};
pub use config::{Config, ConfigError, EventKey, Mode, SigningKey};
pub use error::{Error, NonRetriableError, ResultExt, RetryAfter, RetryAfterError, StepError};
pub use event::{Event, SendError, SendEventResponse};
pub use function::{
    Context, Function, FunctionBuilder, FunctionConfigError, FunctionFailed, Trigger,
};
pub use step::{Invoke, Step, WaitForEvent};
