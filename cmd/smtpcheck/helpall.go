package main

// isHelp reports whether arg, the first argument of a command or of a
// command group, asks for help: -h, -help and --help as the flag package
// takes them on every command, and "help".
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
