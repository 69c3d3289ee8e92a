//! Placeholder: the five MTD Inngest functions are being built.
