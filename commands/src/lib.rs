//! iam-alarm's Discord command layer: slash commands and button handlers, one file each (thin: read input,
//! call a query, render). Filled by the responders' workflow; the alert core lives in `iam-alarm-core`.
