// What a kernel error does to the caller. Inside a module call, BUG() and an Oops end that call (insmod
// dies, as on Linux); panic_on_warn turns every report into a thrown KernelPanic.

export class KernelError extends Error {}

/** BUG(): the current module call was killed. */
export class KernelBug extends KernelError {
  override name = "KernelBug";
}

/** A fault on a bad kernel address (an Oops). */
export class KernelOops extends KernelError {
  override name = "KernelOops";
}

/** panic(): panic_on_warn was set and a report was made. */
export class KernelPanic extends KernelError {
  override name = "KernelPanic";
}

/** Errno values used by the memory API and module loading. */
export const ENOMEM = 12;
export const EINVAL = 22;
export const EEXIST = 17;
export const ENOENT = 2;
export const EPERM = 1;

export const ERRNO_TEXT: Readonly<Record<number, string>> = {
  [EPERM]: "Operation not permitted",
  [ENOENT]: "No such file or directory",
  [ENOMEM]: "Cannot allocate memory",
  [EEXIST]: "File exists",
  [EINVAL]: "Invalid parameters",
};

/** A failed k.cat()/k.echo(), with the errno name the shell would have seen. */
export class FsError extends Error {
  override name = "FsError";
  constructor(
    readonly code: "ENOENT" | "EINVAL" | "EACCES" | "ENOSYS",
    message: string,
  ) {
    super(message);
  }
}
