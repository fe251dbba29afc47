package app

// License is Captune's license as an SPDX expression, shown by Help › About and in LICENSE.
const License = "GPL-3.0-or-later"

// LicenseText and Notices are the texts of LICENSE and THIRD_PARTY_NOTICES.md. Package main embeds
// them from the repository root (go:embed cannot reach a parent folder) and sets them before Main.
var LicenseText, Notices string
