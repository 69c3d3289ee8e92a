//! `mtd`: durable HMRC MTD submissions on Inngest.
fn main() {}
