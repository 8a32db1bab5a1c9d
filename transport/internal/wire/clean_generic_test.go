//go:build !amd64 || purego

package wire

func scanVariants() []scanVariant { return []scanVariant{{"scan", scan, scanData}} }
