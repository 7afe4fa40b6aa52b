// Package kit is the test kit of promobot's tests: one golden-file helper
// (with the -update flag), one reader of the facts stream, one recording
// webhook receiver and one Eventually poll. Tests of any package import
// it; product code never does.
package kit
