// Package revoker verifies leaked Twilio credentials and, for live
// credentials of accounts the user owns, rotates them without downtime.
//
// Input is the scanner's findings as []Leak. Plan verifies each distinct
// credential once (read-only) and says what would happen; Apply acts, only
// when the configuration's mode is "apply" and only for accounts listed in
// it; Resume finishes rotations a killed run left behind (and, given the
// report, starts those a killed run never recorded); Status and Audit
// read the durable state.
//
// # Rotating an Auth Token
//
// The leaked token is first classified as the account's primary or its
// secondary token: by comparison with the owner's configured token
// (credential_env) when there is one; else with the primary token that
// Twilio returns in the Account resource (a match proves "primary");
// else by deleting any secondary token and checking whether the leaked
// token still authenticates. A leaked
// secondary is cut off by deleting it. A leaked primary is replaced: any
// existing secondary (possibly the finder's) is deleted, a new secondary is
// created, delivered to every sink of the account (held in memory only),
// people are notified, the grace period and readiness check pass, the
// secondary is promoted, and the run confirms that the leaked token gets
// 401 and the new one 200.
//
// Promotion is done with the new token itself when this run holds it: if
// someone replaced the secondary since, the new token no longer
// authenticates and nothing is promoted. A resumed run (which never holds
// the new token) promotes with the owner's credential or, failing that,
// the leaked primary (still valid until promotion), and then checks that
// the promoted token's keyed hash is the one recorded at creation.
//
// # Rotating an API key
//
// The replacement has the leaked key's type: a Restricted key is replaced
// through IAM v1 by a Restricted key with the same policy, a Standard key
// by a Standard key. No API creates a Main key: a leaked Main key is left
// alone (the plan says what to do in the Console) unless the account's
// configuration sets ReplaceMainKeysWithStandard, when it is replaced by a
// Standard key.
//
// # No consumer holds a dead credential
//
// Every transition that removes a credential (deleting a secondary token,
// promoting one, deleting an API key) first makes sure, from the recorded
// deliveries, that every sink holds the credential that survives it,
// redelivering that credential where needed (holdings.go). A resumed run
// follows the same rule.
//
// # Durability
//
// Every step is recorded in the store before and after it runs, and the
// rotation's state moves forward only after a step's effect is known. A
// run killed at any point is resumed from the recorded state: a secondary
// (or replacement API key) created but not delivered to every sink is
// deleted and created again, since its value was never stored; a rotation
// whose delivery completed goes on to promotion (or, for an API key, to
// deleting the leaked key), which needs no new secret.
//
// No secret is written to the store, a notification, a log or a result:
// only keyed hashes, SIDs and redacted forms.
package revoker
