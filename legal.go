package main

import (
	_ "embed"

	"github.com/captune/captune/app"
)

// LICENSE and THIRD_PARTY_NOTICES.md stay at the repository root, where readers and packagers look
// for them; go:embed reaches them only from this package, which hands them to app for Help › About.
var (
	//go:embed LICENSE
	licenseText string
	//go:embed THIRD_PARTY_NOTICES.md
	noticesText string
)

func init() { app.LicenseText, app.Notices = licenseText, noticesText }
