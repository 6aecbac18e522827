/**
 * `SkBuff`, the packet buffer, mirroring Linux's `struct sk_buff`.
 *
 * An skb is metadata over one `Uint8Array`, `head`. The packet occupies `head[data .. tail)`;
 * `head[0 .. data)` is headroom for headers to be pushed in front, `head[tail .. end)` is tailroom.
 * The buffer is always linear (no paged fragments), so `len` is simply `tail - data`.
 *
 * ```text
 *  head                data                 tail                 end
 *   |----- headroom -----|======= len ========|----- tailroom -----|
 * ```
 *
 * Header positions (`macHeader`, `networkHeader`, `transportHeader`, `csumStart`) are offsets into
 * `head`, not into the packet, so they stay valid while headers are pushed and pulled.
 *
 * Clones share `head` (and a shared-info record counting the sharers, `dataref`). Before writing
 * bytes of an skb that may be a clone, call {@link SkBuff.cow} (or take a {@link SkBuff.copy}).
 *
 * Errors: `push`, `put` and `reserve` throw `RangeError` when asked for more room than there is;
 * like Linux's `skb_under_panic`/`skb_over_panic` that is a bug in the caller, not bad input.
 * `pull`, which consumes headers of received (untrusted) packets, reports failure by returning
 * -1 instead, like `skb_pull` returning `NULL`.
 * @packageDocumentation
 */
import { allocHead, freeHead } from "./head_alloc.js";

/**
 * The device an skb arrived on or leaves through, as far as `SkBuff` needs to know it. The real
 * `NetDevice` satisfies this structurally; `skbuff.ts` does not import it.
 */
export interface NetDeviceLike {
  /** The interface name, e.g. `"eth0"`. */
  readonly name: string;
  /** The interface index, unique within a stack, 1 and up. */
  readonly ifindex: number;
}

/**
 * Packet types (`skb->pkt_type`): who a received frame was addressed to.
 * @see include/uapi/linux/if_packet.h PACKET_HOST
 */
export const PKT_TYPE = {
  /** To us. */
  PACKET_HOST: 0,
  /** To all (link-layer broadcast). */
  PACKET_BROADCAST: 1,
  /** To a group (link-layer multicast). */
  PACKET_MULTICAST: 2,
  /** To someone else (seen in promiscuous mode). */
  PACKET_OTHERHOST: 3,
  /** Outgoing, of any type (looped back to a tap). */
  PACKET_OUTGOING: 4,
  /** Looped back from ourselves (MC loopback). */
  PACKET_LOOPBACK: 5,
} as const;

/** One of the {@link PKT_TYPE} values. */
export type PktType = (typeof PKT_TYPE)[keyof typeof PKT_TYPE];

/** The frame is addressed to this host. @see include/uapi/linux/if_packet.h PACKET_HOST */
export const PACKET_HOST = PKT_TYPE.PACKET_HOST;
/** The frame is a link-layer broadcast. @see include/uapi/linux/if_packet.h PACKET_BROADCAST */
export const PACKET_BROADCAST = PKT_TYPE.PACKET_BROADCAST;
/** The frame is a link-layer multicast. @see include/uapi/linux/if_packet.h PACKET_MULTICAST */
export const PACKET_MULTICAST = PKT_TYPE.PACKET_MULTICAST;
/** The frame is addressed to another host. @see include/uapi/linux/if_packet.h PACKET_OTHERHOST */
export const PACKET_OTHERHOST = PKT_TYPE.PACKET_OTHERHOST;
/** The frame is outgoing (seen by a tap). @see include/uapi/linux/if_packet.h PACKET_OUTGOING */
export const PACKET_OUTGOING = PKT_TYPE.PACKET_OUTGOING;
/** The frame was looped back to ourselves. @see include/uapi/linux/if_packet.h PACKET_LOOPBACK */
export const PACKET_LOOPBACK = PKT_TYPE.PACKET_LOOPBACK;

/**
 * Checksum states (`skb->ip_summed`).
 * @see include/linux/skbuff.h CHECKSUM_NONE
 */
export const IP_SUMMED = {
  /** Receive: nothing is known; software must verify. Transmit: the checksum is already done. */
  CHECKSUM_NONE: 0,
  /** Receive: the device (or a trusted path like loopback) verified it; skip verification. */
  CHECKSUM_UNNECESSARY: 1,
  /** Receive: `csum` holds the partial sum of the whole packet from `data` on. */
  CHECKSUM_COMPLETE: 2,
  /** Transmit: checksum from `csumStart`, store at `csumStart + csumOffset` (offload). */
  CHECKSUM_PARTIAL: 3,
} as const;

/** One of the {@link IP_SUMMED} values. */
export type IpSummed = (typeof IP_SUMMED)[keyof typeof IP_SUMMED];

/** Nothing is known about the checksum. @see include/linux/skbuff.h CHECKSUM_NONE */
export const CHECKSUM_NONE = IP_SUMMED.CHECKSUM_NONE;
/** The checksum needs no verification. @see include/linux/skbuff.h CHECKSUM_UNNECESSARY */
export const CHECKSUM_UNNECESSARY = IP_SUMMED.CHECKSUM_UNNECESSARY;
/** `csum` holds the sum over the packet. @see include/linux/skbuff.h CHECKSUM_COMPLETE */
export const CHECKSUM_COMPLETE = IP_SUMMED.CHECKSUM_COMPLETE;
/** The checksum is still to be computed. @see include/linux/skbuff.h CHECKSUM_PARTIAL */
export const CHECKSUM_PARTIAL = IP_SUMMED.CHECKSUM_PARTIAL;

/**
 * Default headroom reserved by {@link devAllocSkb}, room for link-layer headers to be pushed.
 * @see include/linux/skbuff.h NET_SKB_PAD
 */
export const NET_SKB_PAD = 64;

/** State shared by an skb and its clones: how many skbs reference `head`. */
interface SkbSharedInfo {
  dataref: number;
  /** A sharer's free was announced on a tracepoint: the head must never go back to the pool. */
  pinned: boolean;
}

/** The shared info of a released skb that was never cloned: no references left. */
const FREED: SkbSharedInfo = Object.freeze({ dataref: 0, pinned: true }) as SkbSharedInfo;

/**
 * A packet buffer: a `Uint8Array` `head` plus offsets and per-packet metadata.
 *
 * Allocate with {@link allocSkb}, {@link devAllocSkb} or {@link skbFromBytes}. Whoever holds an
 * skb owns it; a function that takes an skb takes ownership of it, and the packet ends in exactly
 * one free (`consumeSkb` or `kfreeSkb`), which calls {@link SkBuff.release}.
 * @see include/linux/skbuff.h struct sk_buff
 */
export class SkBuff {
  // The fields are `declare`d: the constructor creates every one, in one order, so each skb gets
  // one hidden class with numbers kept as numbers. (Plain field declarations would compile to an
  // initialiser that first defines every field as `undefined`, on every allocation.)
  /** Next skb in the {@link SkBuffHead} this skb is queued on, or null. */
  declare next: SkBuff | null;
  /** Previous skb in the {@link SkBuffHead} this skb is queued on, or null. */
  declare prev: SkBuff | null;
  /** The buffer. Shared with clones: see {@link SkBuff.cow} before writing. */
  declare head: Uint8Array;
  /** Offset of the first byte of the packet in `head`. */
  declare data: number;
  /** Offset one past the last byte of the packet in `head`. */
  declare tail: number;
  /** Offset one past the last usable byte of `head` (its length). */
  declare end: number;
  /** Offset of the link-layer header in `head`, -1 when unset. */
  declare macHeader: number;
  /** Offset of the network-layer (IP) header in `head`, -1 when unset. */
  declare networkHeader: number;
  /** Offset of the transport-layer header in `head`, -1 when unset. */
  declare transportHeader: number;
  /** Length of the link-layer header in bytes. */
  declare macLen: number;
  /** Ethertype of the network-layer payload, host order (0x0800 for IPv4, 0x0806 for ARP). */
  declare protocol: number;
  /** Who the frame was addressed to: one of {@link PKT_TYPE}. */
  declare pktType: PktType;
  /** The device the skb arrived on or leaves through, or null. */
  declare dev: NetDeviceLike | null;
  /** The socket that owns the skb, or null. */
  declare sk: unknown;
  /** The route (dst entry) attached by routing, or null. */
  declare dst: unknown;
  /** Generic packet mark (`fwmark`), set by netfilter and sockets, 0 by default. */
  declare mark: number;
  /** Queueing priority (`SO_PRIORITY`), 0 by default. */
  declare priority: number;
  /** Arrival or send time in milliseconds of the stack's clock, 0 when unset. */
  declare tstamp: number;
  /** What is known about the checksum: one of {@link IP_SUMMED}. */
  declare ipSummed: IpSummed;
  /** With `CHECKSUM_COMPLETE`: the partial sum over the packet (see `checksum.ts`). */
  declare csum: number;
  /** With `CHECKSUM_PARTIAL`: offset in `head` where checksumming starts. */
  declare csumStart: number;
  /** With `CHECKSUM_PARTIAL`: where to store the checksum, relative to `csumStart`. */
  declare csumOffset: number;
  /** The checksum was verified (by software or the device). */
  declare csumValid: boolean;
  /** Why the skb was dropped, set on the way to `kfreeSkb`; null otherwise. */
  declare dropReason: string | null;
  /**
   * The control block: private per-layer state (TCP's seq/end_seq/flags, IP's options). The
   * layer that owns the skb at the moment owns `cb` and casts it to its own type.
   *
   * Who owns it when, as in Linux (where `cb` is 48 bytes each layer overwrites): whoever holds
   * the skb. A layer handing the skb on leaves `cb` as it is, and the layer taking it over must
   * not trust what it finds there: before reading a field it sets it, for every packet (TCP
   * fills its block on receive in `tcp_v4_rcv`, and on transmit where it builds the segment).
   * It may reuse the object it finds, if the object has its shape, instead of allocating one:
   * that is why the receive path does not reset `cb` to null. A layer that keeps no state in
   * `cb` (IPv4 here) leaves it alone. A veth pair (`skb_scrub_packet`) resets it to null.
   * {@link SkBuff.clone} and {@link SkBuff.copy} give the new skb a shallow copy.
   */
  declare cb: object | null;
  /** The ifindex of the device the skb arrived on, 0 if it did not arrive on one. */
  declare skbIif: number;
  /**
   * The connection-tracking entry the packet belongs to (`skb->_nfct`), set by conntrack; null
   * when untracked. Opaque to core.
   */
  declare nfct: object | null;
  /** How the packet relates to its connection (`enum ip_conntrack_info`), with `nfct`. */
  declare nfctinfo: number;
  /** Set once the skb was freed or consumed ({@link SkBuff.release}); it must not be used after. */
  declare freed: boolean;
  /** This skb is, or has been, cloned: `head` may be shared (see {@link SkBuff.isShared}). */
  declare cloned: boolean;
  /**
   * @internal `head` came from the head allocator (`allocSkb` and friends), so the last skb to
   * let go of it may give it back for reuse. False for a head the caller passed to the
   * constructor.
   */
  declare headFromPool: boolean;
  /** Shared info, made on the first clone (until then the bytes are ours alone). */
  declare private shinfo: SkbSharedInfo | null;

  /**
   * Wraps `head` as an empty skb (`data = tail = 0`, `end = head.length`). Prefer
   * {@link allocSkb} and friends.
   * @param head - the buffer, owned by the skb from now on
   */
  constructor(head: Uint8Array) {
    // Every field, always in this order: one hidden class for all skbs.
    this.next = null;
    this.prev = null;
    this.head = head;
    this.data = 0;
    this.tail = 0;
    this.end = head.length;
    this.macHeader = -1;
    this.networkHeader = -1;
    this.transportHeader = -1;
    this.macLen = 0;
    this.protocol = 0;
    this.pktType = PACKET_HOST;
    this.dev = null;
    this.sk = null;
    this.dst = null;
    this.mark = 0;
    this.priority = 0;
    this.tstamp = 0;
    this.ipSummed = CHECKSUM_NONE;
    this.csum = 0;
    this.csumStart = 0;
    this.csumOffset = 0;
    this.csumValid = false;
    this.dropReason = null;
    this.cb = null;
    this.skbIif = 0;
    this.nfct = null;
    this.nfctinfo = 0;
    this.freed = false;
    this.cloned = false;
    this.headFromPool = false;
    this.shinfo = null;
  }

  /** Length of the packet in bytes: `tail - data`. */
  get len(): number {
    return this.tail - this.data;
  }

  /**
   * Bytes free in front of the packet.
   * @see include/linux/skbuff.h skb_headroom()
   */
  get headroom(): number {
    return this.data;
  }

  /**
   * Bytes free after the packet.
   * @see include/linux/skbuff.h skb_tailroom()
   */
  get tailroom(): number {
    return this.end - this.tail;
  }

  /**
   * How many skbs share `head` (1 when this one is the only one).
   * @see include/linux/skbuff.h skb_shinfo()
   */
  get dataref(): number {
    return this.shinfo === null ? 1 : this.shinfo.dataref;
  }

  /**
   * Reserves `n` bytes of headroom in an empty skb by moving `data` and `tail` forward.
   * @see include/linux/skbuff.h skb_reserve()
   * @param n - bytes of headroom to add
   * @throws RangeError if the skb is not empty or `n` exceeds the tailroom
   */
  reserve(n: number): void {
    if (this.tail !== this.data) {
      throw new RangeError(`skb_reserve: skb is not empty (len ${this.tail - this.data})`);
    }
    if (n >>> 0 !== n || n > this.end - this.tail) {
      throw new RangeError(`skb_reserve: ${n} bytes, tailroom ${this.end - this.tail}`);
    }
    this.data += n;
    this.tail += n;
  }

  /**
   * Extends the packet `n` bytes to the front (to prepend a header) and returns the new `data`.
   * @see include/linux/skbuff.h skb_push()
   * @param n - bytes to add in front
   * @returns the new `data` offset: write the header at `head[data .. data + n)`
   * @throws RangeError if `n` exceeds the headroom (`skb_under_panic`)
   */
  push(n: number): number {
    if (n >>> 0 !== n || n > this.data) {
      throw new RangeError(`skb_under_panic: push ${n} bytes, headroom ${this.data}`);
    }
    this.data -= n;
    return this.data;
  }

  /**
   * Removes `n` bytes from the front of the packet (to consume a header) and returns the new
   * `data`. When the packet is shorter than `n` it is left untouched and -1 is returned.
   * @see include/linux/skbuff.h skb_pull()
   * @param n - bytes to remove from the front
   * @returns the new `data` offset, or -1 if `n > len`
   * @throws RangeError if `n` is not a non-negative integer
   */
  pull(n: number): number {
    if (n >>> 0 !== n) {
      throw new RangeError(`skb_pull: invalid length ${n}`);
    }
    if (n > this.tail - this.data) {
      return -1;
    }
    this.data += n;
    return this.data;
  }

  /**
   * Extends the packet `n` bytes at the end (to append data) and returns the old `tail`.
   * @see include/linux/skbuff.h skb_put()
   * @param n - bytes to add at the end
   * @returns the old `tail` offset: write the new bytes at `head[tail .. tail + n)`
   * @throws RangeError if `n` exceeds the tailroom (`skb_over_panic`)
   */
  put(n: number): number {
    const tail = this.tail;
    if (n >>> 0 !== n || n > this.end - tail) {
      throw new RangeError(`skb_over_panic: put ${n} bytes, tailroom ${this.end - tail}`);
    }
    this.tail = tail + n;
    return tail;
  }

  /**
   * Shortens the packet to `len` bytes, if it is longer (removes trailing padding).
   * @see include/linux/skbuff.h skb_trim()
   * @param len - the new length
   * @throws RangeError if `len` is not a non-negative integer
   */
  trim(len: number): void {
    if (len >>> 0 !== len) {
      throw new RangeError(`skb_trim: invalid length ${len}`);
    }
    if (this.tail - this.data > len) {
      this.tail = this.data + len;
    }
  }

  /**
   * Whether the first `n` bytes of the packet can be read: `len >= n`. The buffer is always
   * linear, so nothing is ever pulled into it.
   * @see include/linux/skbuff.h pskb_may_pull()
   * @param n - bytes needed from `data` on
   */
  mayPull(n: number): boolean {
    return this.tail - this.data >= n;
  }

  /**
   * Sets the link-layer header to `data + offsetFromData`.
   * @see include/linux/skbuff.h skb_set_mac_header()
   * @param offsetFromData - header position relative to `data` (default 0)
   */
  setMacHeader(offsetFromData = 0): void {
    this.macHeader = this.data + offsetFromData;
  }

  /**
   * Sets the link-layer header to `data`.
   * @see include/linux/skbuff.h skb_reset_mac_header()
   */
  resetMacHeader(): void {
    this.macHeader = this.data;
  }

  /**
   * Whether the link-layer header has been set.
   * @see include/linux/skbuff.h skb_mac_header_was_set()
   */
  macHeaderWasSet(): boolean {
    return this.macHeader !== -1;
  }

  /**
   * Sets `macLen` to the distance from the link-layer to the network header.
   * @see include/linux/skbuff.h skb_reset_mac_len()
   */
  resetMacLen(): void {
    this.macLen = this.macHeader === -1 ? 0 : this.networkHeader - this.macHeader;
  }

  /**
   * Sets the network header to `data + offsetFromData`.
   * @see include/linux/skbuff.h skb_set_network_header()
   * @param offsetFromData - header position relative to `data` (default 0)
   */
  setNetworkHeader(offsetFromData = 0): void {
    this.networkHeader = this.data + offsetFromData;
  }

  /**
   * Sets the network header to `data`.
   * @see include/linux/skbuff.h skb_reset_network_header()
   */
  resetNetworkHeader(): void {
    this.networkHeader = this.data;
  }

  /**
   * Sets the transport header to `data + offsetFromData`.
   * @see include/linux/skbuff.h skb_set_transport_header()
   * @param offsetFromData - header position relative to `data` (default 0)
   */
  setTransportHeader(offsetFromData = 0): void {
    this.transportHeader = this.data + offsetFromData;
  }

  /**
   * Sets the transport header to `data`.
   * @see include/linux/skbuff.h skb_reset_transport_header()
   */
  resetTransportHeader(): void {
    this.transportHeader = this.data;
  }

  /**
   * Whether the transport header has been set.
   * @see include/linux/skbuff.h skb_transport_header_was_set()
   */
  transportHeaderWasSet(): boolean {
    return this.transportHeader !== -1;
  }

  /**
   * Whether `head` is shared with a clone, so its bytes must not be written without
   * {@link SkBuff.cow} first. (Linux calls this `skb_cloned()`; its `skb_shared()` is about
   * references to the skb itself, which a garbage-collected runtime does not count.)
   * @see include/linux/skbuff.h skb_cloned()
   */
  isShared(): boolean {
    return this.cloned && this.shinfo !== null && this.shinfo.dataref > 1;
  }

  /**
   * A new skb sharing this one's bytes: same `head`, offsets and metadata (`cb` is copied
   * shallowly, `next`/`prev` are null). Both are marked `cloned`. Neither may write the shared
   * bytes before {@link SkBuff.cow}. Unlike Linux, which clears the clone's `sk`, the owning
   * socket is copied too: nothing here is reference-counted through it.
   * @see net/core/skbuff.c skb_clone()
   * @returns the clone; the caller owns it
   */
  clone(): SkBuff {
    const n = new SkBuff(this.head);
    this.copyHeader(n);
    n.data = this.data;
    n.tail = this.tail;
    n.end = this.end;
    if (this.shinfo === null || this.shinfo === FREED) this.shinfo = { dataref: 1, pinned: false };
    n.shinfo = this.shinfo;
    n.headFromPool = this.headFromPool;
    this.shinfo.dataref++;
    this.cloned = true;
    n.cloned = true;
    return n;
  }

  /**
   * A new skb with a private copy of the bytes (a `head` of the same size) and the same offsets
   * and metadata (`cb` copied shallowly). It is not a clone and may be written freely.
   * @see net/core/skbuff.c skb_copy()
   * @returns the copy; the caller owns it
   */
  copy(): SkBuff {
    const head = allocHead(this.end);
    head.set(this.head.subarray(0, this.tail));
    const n = new SkBuff(head);
    n.headFromPool = true;
    this.copyHeader(n);
    n.data = this.data;
    n.tail = this.tail;
    return n;
  }

  /**
   * Makes the skb writable with at least `headroom` bytes of headroom: if `head` is shared with
   * a clone or the headroom is short, moves the packet into a private `head` (headroom grown in
   * steps of {@link NET_SKB_PAD}). Offsets, headers and metadata stay consistent.
   * @see include/linux/skbuff.h skb_cow()
   * @param headroom - the headroom needed (default 0: only unshare)
   * @returns true if `head` was reallocated, false if it already qualified
   */
  cow(headroom = 0): boolean {
    const delta = headroom > this.data ? headroom - this.data : 0;
    if (delta === 0 && !this.isShared()) {
      return false;
    }
    this.expandHead(Math.ceil(delta / NET_SKB_PAD) * NET_SKB_PAD, 0);
    return true;
  }

  /**
   * Moves the packet into a new private `head` with `nhead` more bytes of headroom and `ntail`
   * more of tailroom. Every head offset (`data`, `tail`, set headers, `csumStart` when
   * `CHECKSUM_PARTIAL`) moves by `nhead`. The old `head` is released (clones keep it) and the
   * skb is no longer `cloned`.
   * @see net/core/skbuff.c pskb_expand_head()
   * @param nhead - headroom to add
   * @param ntail - tailroom to add
   * @throws RangeError if `nhead` or `ntail` is not a non-negative integer
   */
  expandHead(nhead: number, ntail: number): void {
    if (nhead >>> 0 !== nhead || ntail >>> 0 !== ntail) {
      throw new RangeError(`pskb_expand_head: invalid sizes ${nhead}, ${ntail}`);
    }
    const size = nhead + this.end + ntail;
    const head = allocHead(size);
    head.set(this.head.subarray(0, this.tail), nhead);
    this.dropHead();
    this.head = head;
    this.headFromPool = true;
    this.shinfo = null;
    this.cloned = false;
    this.data += nhead;
    this.tail += nhead;
    this.end = size;
    if (this.macHeader !== -1) this.macHeader += nhead;
    if (this.networkHeader !== -1) this.networkHeader += nhead;
    if (this.transportHeader !== -1) this.transportHeader += nhead;
    if (this.ipSummed === CHECKSUM_PARTIAL) this.csumStart += nhead;
  }

  /**
   * Drops this skb's reference to `head` (called once, when the skb is freed). Clones sharing
   * `head` see `dataref` go down and, once alone, may write it without copying. When this was
   * the last reference, a big head goes back to the head pool for reuse (see `head_alloc.ts`):
   * nobody may read or write the bytes of a freed skb.
   * @see net/core/skbuff.c skb_release_data()
   * @param recycleHead - false keeps the head out of the pool even if this was its last user
   *   (a free announced on a tracepoint, whose subscribers may still read the bytes)
   */
  release(recycleHead = true): void {
    // A second free of the same skb must not drop a reference a clone still holds.
    if (this.freed) return;
    this.freed = true;
    if (recycleHead) {
      this.dropHead();
      return;
    }
    const sh = this.shinfo;
    if (sh === null) this.shinfo = FREED;
    else if (sh.dataref > 0) {
      sh.dataref--;
      // The subscriber may keep this skb: the sharer freed last must not recycle the head.
      sh.pinned = true;
    }
  }

  /** Drops this skb's reference to `head`; the last one gives the memory back for reuse. */
  private dropHead(): void {
    const sh = this.shinfo;
    if (sh === null) {
      this.shinfo = FREED;
      if (this.headFromPool) freeHead(this.head);
    } else if (sh.dataref > 0 && --sh.dataref === 0 && this.headFromPool && !sh.pinned) {
      freeHead(this.head);
    }
  }

  /** Copies the metadata (everything but the buffer, the offsets into it and the list links). */
  private copyHeader(n: SkBuff): void {
    n.macHeader = this.macHeader;
    n.networkHeader = this.networkHeader;
    n.transportHeader = this.transportHeader;
    n.macLen = this.macLen;
    n.protocol = this.protocol;
    n.pktType = this.pktType;
    n.dev = this.dev;
    n.sk = this.sk;
    n.dst = this.dst;
    n.mark = this.mark;
    n.priority = this.priority;
    n.tstamp = this.tstamp;
    n.ipSummed = this.ipSummed;
    n.csum = this.csum;
    n.csumStart = this.csumStart;
    n.csumOffset = this.csumOffset;
    n.csumValid = this.csumValid;
    n.dropReason = this.dropReason;
    n.cb = this.cb === null ? null : { ...this.cb };
    n.skbIif = this.skbIif;
    n.nfct = this.nfct;
    n.nfctinfo = this.nfctinfo;
  }
}

/**
 * Allocates an empty skb over a zeroed `head` of `size` bytes (`data = tail = 0`).
 * @see include/linux/skbuff.h alloc_skb()
 * @param size - bytes of buffer
 * @returns the skb; the caller owns it
 */
export function allocSkb(size: number): SkBuff {
  const skb = new SkBuff(allocHead(size));
  skb.headFromPool = true;
  return skb;
}

/**
 * Allocates an skb for a received frame of up to `length` bytes, with {@link NET_SKB_PAD} bytes
 * of headroom already reserved.
 * @see include/linux/skbuff.h dev_alloc_skb()
 * @param length - bytes of packet room after the headroom
 * @returns the skb; the caller owns it
 */
export function devAllocSkb(length: number): SkBuff {
  const skb = new SkBuff(allocHead(length + NET_SKB_PAD));
  skb.headFromPool = true;
  skb.reserve(NET_SKB_PAD);
  return skb;
}

/**
 * Allocates an skb holding a copy of `bytes` after `headroom` bytes of headroom, with no
 * tailroom. Convenient for drivers handing a received frame to the stack, and for tests.
 * @param bytes - the packet; copied, not retained
 * @param headroom - headroom to leave in front (default {@link NET_SKB_PAD})
 * @returns the skb; the caller owns it
 */
export function skbFromBytes(bytes: Uint8Array, headroom: number = NET_SKB_PAD): SkBuff {
  const skb = new SkBuff(allocHead(headroom + bytes.length));
  skb.headFromPool = true;
  skb.reserve(headroom);
  skb.head.set(bytes, skb.put(bytes.length));
  return skb;
}

export { allocHead, HEAD_POOL_MAX_BYTES, headPoolBytes, PAGE_FRAG_MAX } from "./head_alloc.js";
