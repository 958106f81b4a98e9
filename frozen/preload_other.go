//go:build !linux

package frozen

// dlopen is Linux-only; elsewhere the loader's own search finds the GPU
// libraries (or does not, and the provider says so).
func dlopen(string) string { return "" }
