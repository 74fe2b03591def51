package jobs

// RetryDelay exposes the worker's retry delay to the external tests.
var RetryDelay = retryDelay
