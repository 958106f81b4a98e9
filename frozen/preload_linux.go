package frozen

/*
#cgo LDFLAGS: -ldl
#include <dlfcn.h>
#include <stdlib.h>

static const char *af_dlopen(const char *path) {
	if (dlopen(path, RTLD_NOW | RTLD_LOCAL) != NULL) {
		return NULL;
	}
	return dlerror();
}
*/
import "C"

import "unsafe"

// dlopen loads the shared library at path (RTLD_LOCAL: its symbols stay its
// own; what matters is that a later library asking for its soname finds it
// loaded). It returns the loader's message on failure.
func dlopen(path string) string {
	p := C.CString(path)
	defer C.free(unsafe.Pointer(p))
	if msg := C.af_dlopen(p); msg != nil {
		return C.GoString(msg)
	}
	return ""
}
