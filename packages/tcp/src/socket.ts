/**
 * `struct socket` with `inet_stream_ops` for TCP: the {@link TcpSocketHandle} API over a
 * {@link TcpSock}, with kernel-style results (-errno) and wakeups through `onWakeup`.
 * @see net/ipv4/af_inet.c inet_stream_ops, net/ipv4/tcp.c do_tcp_setsockopt()
 * @packageDocumentation
 */
import { ERRNO, inetAton, inetNtoa, type Stack } from "@skbuff/core";
import { ipv4Net } from "@skbuff/ipv4";

import { tcpNet } from "./netns.js";
import {
  IP_OPT,
  IPPROTO_IP_LEVEL,
  IPPROTO_TCP_LEVEL,
  SO,
  SOL_SOCKET,
  TCP_OPT,
  type TcpSocketApi,
  type TcpSocketHandle,
} from "./socket_api.js";
import {
  tcpClose,
  tcpInitSock,
  tcpListen,
  tcpPoll,
  tcpRecvmsg,
  tcpSendmsg,
  tcpSetNagle,
  tcpShutdown,
  tcpV4Connect,
} from "./tcp.js";
import { TCPI_OPT, type TcpInfo } from "./tcp_info.js";
import { tcpPmtu } from "./tcp_output.js";
import { TCP_NAGLE, TcpSock } from "./tcp_sock.js";
import { TCP_CLOSE, TCP_ESTABLISHED, TCP_LISTEN, TCP_SYN_SENT } from "./tcp_states.js";
import { tcpSetKeepalive } from "./tcp_timer.js";

/** A TCP socket as a process holds it. */
export class TcpSocket implements TcpSocketHandle {
  /** The kernel side. */
  readonly sk: TcpSock;

  constructor(net: Stack, sk?: TcpSock) {
    if (sk) {
      this.sk = sk;
    } else {
      this.sk = new TcpSock(net);
      tcpInitSock(this.sk);
    }
  }

  /**
   * The owner's wakeup callback. Stored straight in `sk.wakeup` (no per-socket closure between
   * the two); a closed socket keeps none.
   */
  get onWakeup(): ((events: number) => void) | null {
    return this.sk.wakeup;
  }

  set onWakeup(fn: ((events: number) => void) | null) {
    this.sk.wakeup = this.sk.dead ? null : fn;
  }

  /** `inet_bind`. */
  bind(address: string, port: number): number {
    const sk = this.sk;
    const addr = inetAton(address);
    if (addr === null || !Number.isInteger(port) || port < 0 || port > 65535) return -ERRNO.EINVAL;
    if (sk.num !== 0 || sk.state !== TCP_CLOSE) return -ERRNO.EINVAL;
    if (addr !== 0 && !ipv4Net(sk.net).isLocal(addr)) return -ERRNO.EADDRNOTAVAIL;
    const tn = tcpNet(sk.net);
    sk.rcvSaddr = addr;
    const err = tn.hashinfo.getPort(sk, port, tn.sysctl.localPortRange.value);
    if (err) sk.rcvSaddr = 0;
    return err;
  }

  listen(backlog: number): number {
    return tcpListen(this.sk, backlog);
  }

  /** `inet_csk_accept`. */
  accept(): TcpSocketHandle | number {
    const sk = this.sk;
    if (sk.state !== TCP_LISTEN) return -ERRNO.EINVAL;
    const child = sk.acceptQueue.shift();
    if (!child) return -ERRNO.EAGAIN;
    child.parent = null;
    return new TcpSocket(sk.net, child);
  }

  /** `inet_stream_connect`: -EINPROGRESS, then POLL.OUT (connected) or POLL.ERR (SO_ERROR). */
  connect(address: string, port: number): number {
    const sk = this.sk;
    const addr = inetAton(address);
    if (addr === null) return -ERRNO.EINVAL;
    if (sk.state === TCP_ESTABLISHED) return -ERRNO.EISCONN;
    if (sk.state === TCP_SYN_SENT) return -ERRNO.EALREADY;
    if (sk.state === TCP_LISTEN) return -ERRNO.EINVAL;
    return tcpV4Connect(sk, addr, port);
  }

  read(maxBytes: number): Uint8Array | number {
    if (!Number.isInteger(maxBytes) || maxBytes < 0) return -ERRNO.EINVAL;
    if (maxBytes === 0) return new Uint8Array(0);
    return tcpRecvmsg(this.sk, maxBytes);
  }

  write(data: Uint8Array, flags = 0): number {
    return tcpSendmsg(this.sk, data, flags);
  }

  shutdown(how: number): number {
    if (how < 0 || how > 2) return -ERRNO.EINVAL;
    return tcpShutdown(this.sk, how);
  }

  close(): void {
    if (this.sk.dead) return;
    this.onWakeup = null;
    tcpClose(this.sk);
  }

  /** `sock_setsockopt` / `do_tcp_setsockopt` / `do_ip_setsockopt`. */
  setsockopt(level: number, name: number, value: number | string): number {
    const sk = this.sk;
    if (level === IPPROTO_TCP_LEVEL && name === TCP_OPT.CONGESTION) {
      if (typeof value !== "string") return -ERRNO.EINVAL;
      const ops = tcpNet(sk.net).findCongestion(value);
      if (!ops) return -ERRNO.ENOENT;
      sk.caOps?.release?.(sk);
      sk.caOps = ops;
      sk.caPriv = null;
      if (sk.state === TCP_ESTABLISHED) ops.init?.(sk);
      return 0;
    }
    if (typeof value !== "number" || !Number.isInteger(value)) return -ERRNO.EINVAL;
    const on = value !== 0;
    if (level === SOL_SOCKET) {
      switch (name) {
        case SO.REUSEADDR:
          sk.reuse = on;
          return 0;
        case SO.REUSEPORT:
          sk.reuseport = on;
          return 0;
        case SO.KEEPALIVE:
          tcpSetKeepalive(sk, on);
          return 0;
        case SO.SNDBUF:
          sk.sndbuf = Math.max(value * 2, 4608);
          sk.sndbufLocked = true;
          return 0;
        case SO.RCVBUF:
          sk.rcvbuf = Math.max(value * 2, 2304);
          sk.rcvbufLocked = 1;
          return 0;
        case SO.LINGER:
          sk.lingerOn = value >= 0;
          sk.lingerTime = Math.max(value, 0);
          return 0;
        case SO.RCVLOWAT:
        case SO.SNDLOWAT:
          return 0;
        default:
          return -ERRNO.ENOPROTOOPT;
      }
    }
    if (level === IPPROTO_TCP_LEVEL) {
      switch (name) {
        case TCP_OPT.NODELAY:
          tcpSetNagle(sk, TCP_NAGLE.OFF, on);
          return 0;
        case TCP_OPT.CORK:
          tcpSetNagle(sk, TCP_NAGLE.CORK, on);
          return 0;
        case TCP_OPT.MAXSEG:
          if (value !== 0 && (value < 88 || value > 65535)) return -ERRNO.EINVAL;
          sk.rxOpt.userMss = value;
          return 0;
        case TCP_OPT.KEEPIDLE:
        case TCP_OPT.KEEPINTVL:
          if (value < 1 || value > 32767) return -ERRNO.EINVAL;
          if (name === TCP_OPT.KEEPIDLE) {
            sk.keepaliveTime = value;
            if (sk.keepalive) tcpSetKeepalive(sk, true);
          } else sk.keepaliveIntvl = value;
          return 0;
        case TCP_OPT.KEEPCNT:
          if (value < 1 || value > 127) return -ERRNO.EINVAL;
          sk.keepaliveProbes = value;
          return 0;
        case TCP_OPT.SYNCNT:
          if (value < 1 || value > 127) return -ERRNO.EINVAL;
          sk.synRetries = value;
          return 0;
        case TCP_OPT.LINGER2:
          sk.linger2 = value < 0 ? -1 : Math.min(value, 60);
          return 0;
        case TCP_OPT.USER_TIMEOUT:
          if (value < 0) return -ERRNO.EINVAL;
          sk.userTimeout = value;
          return 0;
        case TCP_OPT.WINDOW_CLAMP:
          sk.windowClamp = Math.max(value, 0);
          return 0;
        case TCP_OPT.QUICKACK:
          if (on) sk.ack.quick = 16;
          sk.ack.pingpong = !on;
          return 0;
        case TCP_OPT.NOTSENT_LOWAT:
          sk.notsentLowat = Math.max(value, 0);
          return 0;
        case TCP_OPT.DEFER_ACCEPT:
          return 0;
        default:
          return -ERRNO.ENOPROTOOPT;
      }
    }
    if (level === IPPROTO_IP_LEVEL) {
      if (name === IP_OPT.TTL) {
        if (value < -1 || value === 0 || value > 255) return -ERRNO.EINVAL;
        sk.ttl = value;
        return 0;
      }
      if (name === IP_OPT.TOS) return 0;
    }
    return -ERRNO.ENOPROTOOPT;
  }

  getsockopt(level: number, name: number): number | string {
    const sk = this.sk;
    if (level === SOL_SOCKET) {
      switch (name) {
        case SO.ERROR: {
          const e = sk.err || sk.softErr;
          sk.err = 0;
          sk.softErr = 0;
          return e;
        }
        case SO.REUSEADDR:
          return sk.reuse ? 1 : 0;
        case SO.REUSEPORT:
          return sk.reuseport ? 1 : 0;
        case SO.KEEPALIVE:
          return sk.keepalive ? 1 : 0;
        case SO.SNDBUF:
          return sk.sndbuf;
        case SO.RCVBUF:
          return sk.rcvbuf;
        case SO.LINGER:
          return sk.lingerOn ? sk.lingerTime : -1;
        default:
          return -ERRNO.ENOPROTOOPT;
      }
    }
    if (level === IPPROTO_TCP_LEVEL) {
      const tn = tcpNet(sk.net);
      switch (name) {
        case TCP_OPT.NODELAY:
          return sk.nonagle & TCP_NAGLE.OFF ? 1 : 0;
        case TCP_OPT.CORK:
          return sk.nonagle & TCP_NAGLE.CORK ? 1 : 0;
        case TCP_OPT.MAXSEG:
          return sk.state === TCP_ESTABLISHED ? sk.mssCache : sk.rxOpt.userMss || 536;
        case TCP_OPT.KEEPIDLE:
          return sk.keepaliveTime || tn.sysctl.keepaliveTime.value;
        case TCP_OPT.KEEPINTVL:
          return sk.keepaliveIntvl || tn.sysctl.keepaliveIntvl.value;
        case TCP_OPT.KEEPCNT:
          return sk.keepaliveProbes || tn.sysctl.keepaliveProbes.value;
        case TCP_OPT.SYNCNT:
          return sk.synRetries || tn.sysctl.synRetries.value;
        case TCP_OPT.LINGER2:
          return sk.linger2 || tn.sysctl.finTimeout.value;
        case TCP_OPT.USER_TIMEOUT:
          return sk.userTimeout;
        case TCP_OPT.WINDOW_CLAMP:
          return sk.windowClamp;
        case TCP_OPT.QUICKACK:
          return sk.ack.pingpong ? 0 : 1;
        case TCP_OPT.CONGESTION:
          return sk.caOps?.name ?? "reno";
        case TCP_OPT.NOTSENT_LOWAT:
          return sk.notsentLowat;
        default:
          return -ERRNO.ENOPROTOOPT;
      }
    }
    if (level === IPPROTO_IP_LEVEL && name === IP_OPT.TTL) {
      return sk.ttl >= 0 ? sk.ttl : ipv4Net(sk.net).sysctl.ipDefaultTtl.value;
    }
    return -ERRNO.ENOPROTOOPT;
  }

  poll(): number {
    return tcpPoll(this.sk);
  }

  get inq(): number {
    let n = 0;
    for (let s = this.sk.receiveQueue.peek(); s !== null; s = s.next) n += s.len;
    return n;
  }

  get outq(): number {
    return (this.sk.writeSeq - this.sk.sndUna) >>> 0;
  }

  get localAddress(): string {
    return inetNtoa(this.sk.rcvSaddr);
  }

  get localPort(): number {
    return this.sk.num;
  }

  get remoteAddress(): string {
    return inetNtoa(this.sk.daddr);
  }

  get remotePort(): number {
    return this.sk.dport;
  }

  get state(): number {
    return this.sk.state;
  }

  tcpInfo(): TcpInfo {
    return tcpGetInfo(this.sk);
  }
}

/** `tcp_get_info_chrono_stats`: each chrono's time, the running one up to now, in µs. */
function tcpGetInfoChronoStats(
  sk: TcpSock,
  now: number,
): { tcpi_busy_time: number; tcpi_rwnd_limited: number; tcpi_sndbuf_limited: number } {
  const stats = sk.chronoStat.map((ms, i) =>
    Math.round((ms + (sk.chronoType === i + 1 ? now - sk.chronoStart : 0)) * 1000),
  );
  const [busy = 0, rwnd = 0, sndbuf = 0] = stats;
  return {
    tcpi_busy_time: busy + rwnd + sndbuf,
    tcpi_rwnd_limited: rwnd,
    tcpi_sndbuf_limited: sndbuf,
  };
}

/** `tcp_get_info`. */
export function tcpGetInfo(sk: TcpSock): TcpInfo {
  const now = sk.net.clock.now();
  const rx = sk.rxOpt;
  return {
    tcpi_state: sk.state,
    tcpi_ca_state: sk.caState,
    tcpi_retransmits: sk.retransmits,
    tcpi_probes: sk.probesOut,
    tcpi_backoff: sk.backoff,
    tcpi_options:
      (rx.tstampOk ? TCPI_OPT.TIMESTAMPS : 0) |
      (rx.sackOk ? TCPI_OPT.SACK : 0) |
      (rx.wscaleOk ? TCPI_OPT.WSCALE : 0),
    tcpi_snd_wscale: rx.wscaleOk ? rx.sndWscale : 0,
    tcpi_rcv_wscale: rx.wscaleOk ? rx.rcvWscale : 0,
    tcpi_rto: sk.rto * 1000,
    tcpi_ato: sk.ack.ato * 1000,
    tcpi_snd_mss: sk.mssCache,
    tcpi_rcv_mss: sk.ack.rcvMss,
    tcpi_unacked: sk.packetsOut,
    tcpi_sacked: sk.sackedOut,
    tcpi_lost: sk.lostOut,
    tcpi_retrans: sk.retransOut,
    tcpi_fackets: 0,
    tcpi_last_data_sent: sk.dataSegsOut ? now - sk.lsndtime : 0,
    tcpi_last_data_recv: sk.lrcvtime ? now - sk.lrcvtime : 0,
    tcpi_last_ack_recv: sk.rcvTstamp ? now - sk.rcvTstamp : 0,
    tcpi_pmtu: tcpPmtu(sk),
    tcpi_rcv_ssthresh: sk.rcvWnd,
    tcpi_rtt: sk.srttUs >> 3,
    tcpi_rttvar: sk.mdevUs >> 2,
    tcpi_snd_ssthresh: sk.sndSsthresh,
    tcpi_snd_cwnd: sk.sndCwnd,
    tcpi_advmss: sk.advmss,
    tcpi_reordering: sk.reordering,
    tcpi_rcv_rtt: 0,
    tcpi_rcv_space: sk.rcvbuf >> 1,
    tcpi_total_retrans: sk.totalRetrans,
    tcpi_bytes_acked: sk.bytesAcked,
    tcpi_bytes_received: sk.bytesReceived,
    tcpi_segs_out: sk.segsOut,
    tcpi_segs_in: sk.segsIn,
    tcpi_min_rtt: sk.minRttUs,
    tcpi_delivery_rate: sk.srttUs
      ? Math.round((sk.sndCwnd * sk.mssCache * 1e6) / (sk.srttUs >> 3 || 1))
      : 0,
    tcpi_data_segs_in: sk.dataSegsIn,
    tcpi_data_segs_out: sk.dataSegsOut,
    tcpi_notsent_bytes: sk.notSentBytes,
    tcpi_dsack_dups: sk.dsackDups,
    ...tcpGetInfoChronoStats(sk, now),
  };
}

/** `socket(AF_INET, SOCK_STREAM, 0)` for one stack. */
export class TcpSocketApiImpl implements TcpSocketApi {
  constructor(private readonly net: Stack) {}

  socket(): TcpSocketHandle {
    return new TcpSocket(this.net);
  }
}
