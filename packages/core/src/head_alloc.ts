/**
 * Packet memory for skb heads: the stack's page allocator.
 *
 * - Heads up to {@link PAGE_FRAG_MAX} bytes are carved from a shared 32 KiB slab, like
 *   `page_frag_alloc()`: a view on a shared `ArrayBuffer`, so no backing-store allocation per
 *   packet. A slab is reclaimed by the garbage collector once no head carved from it is alive.
 * - Bigger heads (TSO-sized segments: 64 KiB on loopback) come from power-of-two size classes.
 *   A freed big head goes back to a bounded pool ({@link HEAD_POOL_MAX_BYTES} in all) and is
 *   handed out again, as the page allocator recycles freed pages. Without it every 64 KiB segment
 *   is a zeroed external backing store for the garbage collector to track and free.
 *
 * Security: a recycled head is zeroed over the bytes it hands out before it is handed out, so
 * old packet bytes can never reach the wire or another socket through a buffer a writer forgot to
 * fill (the same guarantee as a fresh `new Uint8Array`). Zeroing is a `fill(0)`, far cheaper than
 * a new zeroed backing store plus the garbage collection of the old one.
 *
 * Freed slab heads are recycled the same way, per 64-byte size class (TCP allocates every small
 * segment with the same size), up to 512 KiB; a pooled fragment keeps its slab alive.
 *
 * Only the skb layer returns heads ({@link SkBuff.release} once the last sharer of a head lets
 * go: `dataref` reaches 0), and only heads it got from here (`allocSkb` and friends, `copy`,
 * `expandHead`); a caller's own `Uint8Array` wrapped with `new SkBuff(bytes)` is never taken.
 * Ownership is a flag on the skb rather than a `WeakSet` of buffers: weak collections make
 * every garbage collection slower, which is what the pool is there to avoid.
 * @see mm/page_alloc.c page_frag_alloc(), free_unref_page()
 * @packageDocumentation
 */

/** Heads up to this size are carved from a shared slab ({@link allocHead}). */
export const PAGE_FRAG_MAX = 4096;
const SLAB_SIZE = 32 * 1024;
const FRAG_ALIGN = 64;
/** log2 of {@link FRAG_ALIGN}: a granule count is a shift, not a (floating-point) division. */
const FRAG_SHIFT = 6;
let slab = new ArrayBuffer(SLAB_SIZE);
let slabOffset = 0;

/** Most bytes the pool of freed big heads keeps for reuse, over all size classes. */
export const HEAD_POOL_MAX_BYTES = 8 * 1024 * 1024;
/** Most bytes of freed small (slab) heads kept for reuse. */
const FRAG_POOL_MAX_BYTES = 512 * 1024;
/** Heads bigger than this are never pooled (allocated and garbage-collected each time). */
const POOL_CLASS_MAX = 1024 * 1024;
/** log2 of the smallest big size class (8 KiB: the first above {@link PAGE_FRAG_MAX}). */
const MIN_ORDER = 13;
const MAX_ORDER = 20;

/** Free big buffers per size class, index `order - MIN_ORDER`; each `ArrayBuffer` is `2^order`. */
const freeLists: ArrayBuffer[][] = [];
for (let o = MIN_ORDER; o <= MAX_ORDER; o++) freeLists.push([]);
let pooledBytes = 0;
/**
 * Free slab heads per 64-byte granule count (`need / FRAG_ALIGN`): a head carved for `need` bytes
 * can serve any size that rounds up to the same `need`.
 */
const fragLists: Uint8Array[][] = [];
for (let g = 0; g <= PAGE_FRAG_MAX / FRAG_ALIGN; g++) fragLists.push([]);
let fragPooledBytes = 0;

/** The size class (log2 of the buffer size) for a head of `size` bytes. */
function orderOf(size: number): number {
  return size <= 1 << MIN_ORDER ? MIN_ORDER : 32 - Math.clz32(size - 1);
}

/**
 * Allocates packet memory of `size` bytes, zeroed: a recycled head of the same class (zeroed
 * again first) if the pool has one, else a new slab fragment or big buffer. The returned view is
 * exactly `size` bytes long.
 * @see mm/page_alloc.c page_frag_alloc()
 */
export function allocHead(size: number): Uint8Array {
  if (size > PAGE_FRAG_MAX) return allocBigHead(size);
  const need = (size + FRAG_ALIGN - 1) & ~(FRAG_ALIGN - 1);
  const free = fragLists[need >>> FRAG_SHIFT]!;
  if (free.length > 0) {
    const old = free.pop()!;
    fragPooledBytes -= need;
    const head = old.length === size ? old : new Uint8Array(old.buffer, old.byteOffset, size);
    head.fill(0); // never hand out a previous packet's bytes
    return head;
  }
  if (slabOffset + need > SLAB_SIZE) {
    slab = new ArrayBuffer(SLAB_SIZE);
    slabOffset = 0;
  }
  const head = new Uint8Array(slab, slabOffset, size);
  slabOffset += need;
  return head;
}

function allocBigHead(size: number): Uint8Array {
  if (size > POOL_CLASS_MAX) return new Uint8Array(size);
  const order = orderOf(size);
  const list = freeLists[order - MIN_ORDER]!;
  const buf = list.pop();
  if (buf !== undefined) {
    pooledBytes -= buf.byteLength;
    const head = new Uint8Array(buf, 0, size);
    head.fill(0); // never hand out a previous packet's bytes
    return head;
  }
  return new Uint8Array(new ArrayBuffer(1 << order), 0, size);
}

/**
 * Gives a head back once nothing references its bytes any more (the last skb sharing it was
 * freed). The head must have come from {@link allocHead} (the skb layer keeps track: see
 * `SkBuff.headFromPool`); heads that do not fit the pool's budget are left to the garbage
 * collector.
 * @see mm/page_alloc.c free_unref_page()
 * @param head - a head whose last user let go; it must not be read or written after this
 */
export function freeHead(head: Uint8Array): void {
  const size = head.length;
  if (size <= PAGE_FRAG_MAX) {
    const need = (size + FRAG_ALIGN - 1) & ~(FRAG_ALIGN - 1);
    if (fragPooledBytes + need > FRAG_POOL_MAX_BYTES) return;
    // Every head of this size the allocator made is a slab fragment on a FRAG_ALIGN boundary:
    // anything else is not ours. (The slab itself is not looked at: `head.buffer` is a call V8
    // does not inline, the dearest step of a free. Only the skb layer calls here, and only for
    // heads it got from allocHead: `SkBuff.headFromPool`.)
    if ((head.byteOffset & (FRAG_ALIGN - 1)) !== 0 || head.byteOffset + need > SLAB_SIZE) return;
    fragLists[need >>> FRAG_SHIFT]!.push(head);
    fragPooledBytes += need;
    return;
  }
  const buf = head.buffer;
  const bytes = buf.byteLength;
  if (bytes <= PAGE_FRAG_MAX || bytes > POOL_CLASS_MAX || head.byteOffset !== 0) return;
  if (pooledBytes + bytes > HEAD_POOL_MAX_BYTES) return;
  const list = freeLists[orderOf(bytes) - MIN_ORDER]!;
  if (list.includes(buf as ArrayBuffer)) return; // freed twice through a bug elsewhere
  list.push(buf as ArrayBuffer);
  pooledBytes += bytes;
}

/** Bytes of freed heads the pools hold now, big and small (for tests and memory reports). */
export function headPoolBytes(): number {
  return pooledBytes + fragPooledBytes;
}
