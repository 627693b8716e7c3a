package main

import (
	"flag"
	"os"

	"github.com/leakstop/leakstop/pipeline"
)

// revokerFlags are the flags that wire the revoker, shared by scan
// (--verify, --revoke) and revoke.
type revokerFlags struct {
	config      string // revoker configuration file
	state       string // store DSN, overriding the configuration's
	twilioAPI   string // Twilio base URLs (tests point them at a fake)
	twilioAccts string
	verbose     bool
}

func (rf *revokerFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&rf.config, "config", "", "revoker configuration `FILE` (accounts you own, sinks, notifiers, state store; see docs/revoke.md)")
	fs.StringVar(&rf.state, "state", "", "state store `DSN` (a SQLite path or postgres://…); default $"+stateEnv+", else the configuration's state")
	fs.StringVar(&rf.twilioAPI, "twilio-api-url", "", "Twilio REST API base `URL` (default https://api.twilio.com; for tests)")
	fs.StringVar(&rf.twilioAccts, "twilio-accounts-url", "", "Twilio Accounts API base `URL` (default https://accounts.twilio.com and https://iam.twilio.com, or --twilio-api-url when only that is set; for tests)")
	fs.BoolVar(&rf.verbose, "verbose", false, "log every step of a rotation to standard error")
}

// stateEnv names the variable that may hold the store's DSN, so that a
// database password need not be in the configuration file or on a
// command line.
const stateEnv = "LEAKSTOP_STATE"

// revokerOptions are the revoker flags as the pipeline takes them: the
// environment is read here, in main. Diagnostics go to s.err.
func revokerOptions(s *stdio, rf revokerFlags) pipeline.RevokerOptions {
	state := rf.state
	if state == "" {
		state = os.Getenv(stateEnv)
	}
	return pipeline.RevokerOptions{
		Config: rf.config, State: state,
		TwilioAPI: rf.twilioAPI, TwilioAccounts: rf.twilioAccts,
		Verbose: rf.verbose,
		Getenv:  os.Getenv,
		Diag:    s.err,
		Repo:    os.Getenv("GITHUB_REPOSITORY"),
	}
}
