//! Tracing integration: the spans the SDK opens and how to drop replayed logs.
//!
//! Every call runs the function inside an `inngest.function` span and every executed step
//! inside an `inngest.step` span. Both carry:
//!
//! | field | value |
//! |---|---|
//! | `inngest.fn_id` | composite function id (`<app>-<fn>`) |
//! | `inngest.run_id` | run id |
//! | `inngest.attempt` | 0-based attempt |
//! | `inngest.replay` | `true` while the function re-executes code that already ran in an earlier call |
//!
//! `inngest.step` spans also carry `inngest.step.id` (the id in the code),
//! `inngest.step.hash` and `inngest.step.kind`. Memoised steps get a `DEBUG`-level
//! `inngest.step` span with `inngest.replay = true`.
//!
//! Code outside steps runs again on every call, so its logs repeat. To drop them, add
//! [`ReplayFilter`] (feature `replay-filter`, on by default) to a layer:
//!
//! ```
//! # #[cfg(feature = "replay-filter")] {
//! use tracing_subscriber::prelude::*;
//!
//! tracing_subscriber::registry()
//!     .with(tracing_subscriber::fmt::layer().with_filter(inngest::trace::ReplayFilter))
//!     .try_init()
//!     .ok();
//! # }
//! ```
//!
//! (`EnvFilter` span-field directives cannot do this: they only ever *enable* events.)

#[cfg(feature = "replay-filter")]
pub use filter::ReplayFilter;

/// The span field that marks replayed code.
pub const REPLAY_FIELD: &str = "inngest.replay";

#[cfg(feature = "replay-filter")]
mod filter {
    use tracing::field::{Field, Visit};
    use tracing::span::{Attributes, Id};
    use tracing::{Metadata, Subscriber};
    use tracing_subscriber::layer::{Context, Filter};
    use tracing_subscriber::registry::LookupSpan;

    use super::REPLAY_FIELD;

    /// A per-layer filter that disables events emitted inside a span whose closest
    /// `inngest.replay` field is `true`. Spans and all other events pass.
    #[derive(Debug, Clone, Copy, Default)]
    pub struct ReplayFilter;

    /// The `inngest.replay` value of a span, stored in its extensions.
    #[derive(Debug, Clone, Copy)]
    struct Replaying(bool);

    struct FindReplay(Option<bool>);

    impl Visit for FindReplay {
        fn record_bool(&mut self, field: &Field, value: bool) {
            if field.name() == REPLAY_FIELD {
                self.0 = Some(value);
            }
        }

        fn record_debug(&mut self, _field: &Field, _value: &dyn std::fmt::Debug) {}
    }

    impl<S> Filter<S> for ReplayFilter
    where
        S: Subscriber + for<'a> LookupSpan<'a>,
    {
        fn enabled(&self, meta: &Metadata<'_>, cx: &Context<'_, S>) -> bool {
            if !meta.is_event() {
                return true;
            }
            let Some(current) = cx.lookup_current() else {
                return true;
            };
            for span in current.scope() {
                if let Some(Replaying(replay)) = span.extensions().get::<Replaying>() {
                    return !*replay;
                }
            }
            true
        }

        fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
            let mut find = FindReplay(None);
            attrs.record(&mut find);
            if let (Some(replay), Some(span)) = (find.0, ctx.span(id)) {
                span.extensions_mut().replace(Replaying(replay));
            }
        }
    }
}
