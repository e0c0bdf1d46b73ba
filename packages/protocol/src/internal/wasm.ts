// Instantiates the package's small WebAssembly kernels (each embedded as bytes beside its WAT source). Node's
// WebAssembly global is declared here as far as it is used: the ES library this project compiles against has no
// types for it.

declare const WebAssembly: {
  readonly Module: new(bytes: Uint8Array) => object
  readonly Instance: new(module: object) => { readonly exports: object }
}

/** A kernel's exports: its memory and the functions `E` names. */
export type Kernel<E> = E & { readonly memory: { readonly buffer: ArrayBuffer } }

/** Compiles and instantiates a kernel that imports nothing. */
export const instantiate = <E>(bytes: Uint8Array): Kernel<E> =>
  new WebAssembly.Instance(new WebAssembly.Module(bytes)).exports as Kernel<E>
