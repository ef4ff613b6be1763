/* fsutil.h - the few file-system helpers every layer needs: making a folder with its parents,
 * the mode a new file gets from the umask, and whether a file name is safe to join to a folder.
 */
#ifndef SW_FSUTIL_H
#define SW_FSUTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "core/error.h"

/* Creates dir and any missing parents (like `mkdir -p`): parents with mode 0777 & ~umask, dir
 * itself with `mode` & ~umask. An existing folder is fine (its mode is left alone); an
 * existing non-folder, or a failure, is SW_ERUNTIME naming the path and the reason. */
int sw_mkdir_p(const char *dir, mode_t mode, sw_error *err);

/* Creates the folder that holds `path` (everything before its last '/'), as sw_mkdir_p with
 * mode 0777; nothing to do for a bare file name. */
int sw_mkdir_parent(const char *path, sw_error *err);

/* The mode open(..., 0666) would give a new file under the process umask (0644 under 022),
 * for files made with mkstemp (always 0600) that must honour the umask. */
mode_t sw_umask_file_mode(void);

/* Whether name is usable as one file name inside a folder: 1 to 200 bytes of letters, digits,
 * '_', '-', '.' and '+', not starting with '.' or '-' (so no "..", no '/', no hidden or
 * option-like names). */
bool sw_safe_file_name(const char *name);

/* Reads the whole file at path into a malloc'd NUL-terminated string (*out, the caller frees
 * it). `what` names the file in errors ("scenario", "sweep file"): "PATH: cannot open WHAT:
 * reason", "PATH: cannot read WHAT", "PATH: contains a NUL byte, expected WHAT text". */
int sw_read_text_file(const char *path, const char *what, char **out, sw_error *err);

#endif
