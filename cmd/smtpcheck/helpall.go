package main

// isHelp reports whether arg asks for help.
func isHelp(arg string) bool {
	switch arg {
	case "-h", "-help", "--help", "help":
		return true
	}
	return false
}

const smimeUsage = `usage: smtpcheck smime verify [--from ADDRESS] [--ca FILE] [S/MIME flags]

Commands:
  verify   check an S/MIME signing and encryption configuration without
           sending anything (run 'smtpcheck smime verify --help' for its flags)`
