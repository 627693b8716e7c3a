// Package orgscan scans every repository of GitHub organisations, on one
// machine or on a fleet of worker processes sharing one state database.
//
// A round lists the organisations' repositories (listing.go), mirrors
// each into a cache with the git binary (mirror.go), scans what is new
// since the last round (incremental.go), records findings per credential
// across the organisation (findings.go), and shares the repositories
// between worker processes through a job queue (queue.go). Reports cover
// the whole organisation every round (report.go).
package orgscan
