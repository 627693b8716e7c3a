// Package twilio is a small Twilio REST client for verifying leaked
// credentials and rotating them: it fetches accounts (to verify a SID/token
// or API key pair), manages the secondary Auth Token (create, delete,
// promote) and manages API keys (list, fetch, create, delete; through IAM
// v1, fetch a key's policy and create Standard or Restricted keys — no API
// creates a Main key). Lists (keys, accounts) are read across every page.
//
// The API facts come from Twilio's OpenAPI files (a copy is in
// twiliotest/testdata/openapi) and Twilio's documentation; twiliotest is a
// fake server built from the same files.
//
// # Secrets
//
// Passwords, Auth Tokens and key secrets are held as secret.Value. No error
// string produced by this package contains the password of the request that
// failed, and Twilio's own error messages are scrubbed of it before they
// reach an *Error. Response bodies are never copied into errors.
//
// # Retries and unknown outcomes
//
// Every call is bounded by Options.Timeout per attempt and retried at most
// Options.MaxRetries times with exponential back-off and full jitter
// (Retry-After, when Twilio sends it, replaces the jitter, capped at
// MaxBackoff). GET and DELETE are retried on 429, 5xx, timeouts and
// connection errors. POST is retried only when Twilio did not process it
// (429) or when it provably never left this process (no connection could
// be made). A POST whose fate is unclear (5xx, timeout or reset after the
// request was sent, an unreadable success body, cancellation in flight)
// returns an *UnknownOutcomeError, and so does a DELETE that ran out of
// attempts after such a failure: the caller must re-read the state before
// taking the next step. Context cancellation stops retrying at once.
//
// A DELETE retried after an ambiguous failure can meet the 404 of its own
// earlier, successful attempt; callers that delete should treat IsNotFound
// as "already gone".
package twilio
