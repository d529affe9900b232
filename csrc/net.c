/* The container's network link, made by the child between clone and execve: one
 * RTM_NEWLINK on a netlink socket of the host's network namespace creates the veth pair with
 * its host end up on the bridge and its peer already in our namespace, then a socket of our
 * own namespace gives the peer its addresses and default route.  Stack buffers and system
 * calls only, like the rest of the child (child.c). */
#include "internal.h"

#include <linux/if_addr.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#define FAIL(step, idx, path) pc_child_fail(errno, (step), (idx), (path))
#define FAILE(e, step, idx, path) pc_child_fail((e), (step), (idx), (path))

#ifndef IFA_F_NODAD
#define IFA_F_NODAD 0x02
#endif

struct nlbuf {
    char data[1024] __attribute__((aligned(NLMSG_ALIGNTO)));
    unsigned int len;
};

static struct nlmsghdr *nl_start(struct nlbuf *b, int type, int flags, const void *hdr,
                                 unsigned int hdr_len)
{
    memset(b->data, 0, sizeof(b->data));
    struct nlmsghdr *h = (struct nlmsghdr *)b->data;
    h->nlmsg_type = (unsigned short)type;
    h->nlmsg_flags = (unsigned short)(NLM_F_REQUEST | NLM_F_ACK | flags);
    h->nlmsg_seq = 1;
    memcpy(b->data + NLMSG_HDRLEN, hdr, hdr_len);
    b->len = NLMSG_HDRLEN + NLMSG_ALIGN(hdr_len);
    h->nlmsg_len = b->len;
    return h;
}

/* Appends an attribute; returns its offset (for nesting) or -1 when the buffer is full. */
static int nl_put(struct nlbuf *b, int type, const void *data, unsigned int len)
{
    unsigned int need = RTA_SPACE(len);
    if (b->len + need > sizeof(b->data))
        return -1;
    int off = (int)b->len;
    struct rtattr *a = (struct rtattr *)(b->data + b->len);
    a->rta_type = (unsigned short)type;
    a->rta_len = (unsigned short)RTA_LENGTH(len);
    if (len)
        memcpy(RTA_DATA(a), data, len);
    b->len += need;
    ((struct nlmsghdr *)b->data)->nlmsg_len = b->len;
    return off;
}

static int nl_put_str(struct nlbuf *b, int type, const char *s)
{
    return nl_put(b, type, s, (unsigned int)pc_strlen(s) + 1);
}

static int nl_put_u32(struct nlbuf *b, int type, unsigned int v)
{
    return nl_put(b, type, &v, sizeof(v));
}

/* Closes a nest opened at *off*: its length covers everything appended since. */
static void nl_end(struct nlbuf *b, int off)
{
    struct rtattr *a = (struct rtattr *)(b->data + off);
    a->rta_len = (unsigned short)(b->len - (unsigned int)off);
}

/* Sends the message and waits for its ack: 0, or -errno. */
static int nl_talk(int sock, struct nlbuf *b)
{
    struct sockaddr_nl sa;
    memset(&sa, 0, sizeof(sa));
    sa.nl_family = AF_NETLINK;
    ssize_t n;
    do
        n = sendto(sock, b->data, b->len, 0, (struct sockaddr *)&sa, sizeof(sa));
    while (n < 0 && errno == EINTR);
    if (n < 0)
        return -errno;
    char rbuf[4096] __attribute__((aligned(NLMSG_ALIGNTO)));
    for (;;) {
        do
            n = recv(sock, rbuf, sizeof(rbuf), 0);
        while (n < 0 && errno == EINTR);
        if (n < 0)
            return -errno;
        for (struct nlmsghdr *h = (struct nlmsghdr *)rbuf; NLMSG_OK(h, (unsigned int)n);
             h = NLMSG_NEXT(h, n)) {
            if (h->nlmsg_type == NLMSG_ERROR) {
                struct nlmsgerr *e = (struct nlmsgerr *)NLMSG_DATA(h);
                return e->error;
            }
        }
    }
}

static int if_index(int s, const char *name)
{
    struct ifreq ifr;
    memset(&ifr, 0, sizeof(ifr));
    pc_strlcpy(ifr.ifr_name, name, sizeof(ifr.ifr_name));
    if (ioctl(s, SIOCGIFINDEX, &ifr) < 0)
        return -errno;
    return ifr.ifr_ifindex;
}

static int if_up(int s, const char *name)
{
    struct ifreq ifr;
    memset(&ifr, 0, sizeof(ifr));
    pc_strlcpy(ifr.ifr_name, name, sizeof(ifr.ifr_name));
    if (ioctl(s, SIOCGIFFLAGS, &ifr) < 0)
        return -errno;
    ifr.ifr_flags |= IFF_UP;
    if (ioctl(s, SIOCSIFFLAGS, &ifr) < 0)
        return -errno;
    return 0;
}

static int add_addr(int sock, int family, int index, const unsigned char *addr, int prefix)
{
    struct nlbuf b;
    struct ifaddrmsg ifa;
    memset(&ifa, 0, sizeof(ifa));
    ifa.ifa_family = (unsigned char)family;
    ifa.ifa_prefixlen = (unsigned char)prefix;
    ifa.ifa_index = (unsigned int)index;
    ifa.ifa_scope = RT_SCOPE_UNIVERSE;
    unsigned int alen = family == AF_INET ? 4 : 16;
    nl_start(&b, RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL, &ifa, sizeof(ifa));
    nl_put(&b, IFA_LOCAL, addr, alen);
    nl_put(&b, IFA_ADDRESS, addr, alen);
    if (family == AF_INET6)
        nl_put_u32(&b, IFA_FLAGS, IFA_F_NODAD); /* usable at once: no duplicate detection wait */
    return nl_talk(sock, &b);
}

static int add_default_route(int sock, int family, int index, const unsigned char *gw)
{
    struct nlbuf b;
    struct rtmsg rt;
    memset(&rt, 0, sizeof(rt));
    rt.rtm_family = (unsigned char)family;
    rt.rtm_table = RT_TABLE_MAIN;
    rt.rtm_protocol = RTPROT_BOOT;
    rt.rtm_scope = RT_SCOPE_UNIVERSE;
    rt.rtm_type = RTN_UNICAST;
    nl_start(&b, RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL, &rt, sizeof(rt));
    nl_put(&b, RTA_GATEWAY, gw, family == AF_INET ? 4 : 16);
    nl_put_u32(&b, RTA_OIF, (unsigned int)index);
    return nl_talk(sock, &b);
}

/* The pair, its host end up on the bridge (hairpin where asked), its peer in the namespace
 * named by ns_attr (IFLA_NET_NS_PID or IFLA_NET_NS_FD) and ns_value.  0 or -errno. */
static int make_link(const struct pc_net *n, int ns_attr, unsigned int ns_value)
{
    struct nlbuf b;
    struct ifinfomsg ifi;
    memset(&ifi, 0, sizeof(ifi));
    ifi.ifi_family = AF_UNSPEC;
    ifi.ifi_flags = IFF_UP;
    ifi.ifi_change = IFF_UP;
    nl_start(&b, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, &ifi, sizeof(ifi));
    nl_put_str(&b, IFLA_IFNAME, n->host_ifname);
    if (n->mtu)
        nl_put_u32(&b, IFLA_MTU, n->mtu);
    if (n->master)
        nl_put_u32(&b, IFLA_MASTER, (unsigned int)n->master);
    int linkinfo = nl_put(&b, IFLA_LINKINFO, NULL, 0);
    nl_put_str(&b, IFLA_INFO_KIND, "veth");
    int infodata = nl_put(&b, IFLA_INFO_DATA, NULL, 0);
    int peer = nl_put(&b, VETH_INFO_PEER, NULL, 0);
    struct ifinfomsg pifi;
    memset(&pifi, 0, sizeof(pifi));
    pifi.ifi_family = AF_UNSPEC;
    /* the peer's ifinfomsg sits in the attribute's payload, its attributes after it */
    if (b.len + sizeof(pifi) > sizeof(b.data))
        return -ENOBUFS;
    memcpy(b.data + b.len, &pifi, sizeof(pifi));
    b.len += NLMSG_ALIGN(sizeof(pifi));
    nl_put_str(&b, IFLA_IFNAME, n->ifname);
    nl_put_u32(&b, ns_attr, ns_value);
    if (n->mtu)
        nl_put_u32(&b, IFLA_MTU, n->mtu);
    nl_end(&b, peer);
    nl_end(&b, infodata);
    nl_end(&b, linkinfo);
    ((struct nlmsghdr *)b.data)->nlmsg_len = b.len;
    int r = nl_talk(n->host_nl, &b);
    if (r < 0)
        return r;
    if (n->alias) {
        memset(&ifi, 0, sizeof(ifi));
        ifi.ifi_family = AF_UNSPEC;
        nl_start(&b, RTM_NEWLINK, 0, &ifi, sizeof(ifi));
        nl_put_str(&b, IFLA_IFNAME, n->host_ifname);
        nl_put_str(&b, IFLA_IFALIAS, n->alias);
        r = nl_talk(n->host_nl, &b);
        if (r < 0)
            return r;
    }
    if (n->master && n->hairpin) {
        /* hairpin on the bridge port: with br_netfilter (Docker loads it) a connection to
         * the container's own published port is bridged back out of the port it came in */
        int hidx = if_index(n->host_nl, n->host_ifname); /* SIOCGIFINDEX in the host's namespace */
        if (hidx < 0)
            return hidx;
        memset(&ifi, 0, sizeof(ifi));
        ifi.ifi_family = AF_BRIDGE;
        ifi.ifi_index = hidx;
        nl_start(&b, RTM_SETLINK, 0, &ifi, sizeof(ifi));
        int prot = nl_put(&b, IFLA_PROTINFO | NLA_F_NESTED, NULL, 0);
        unsigned char on = 1;
        nl_put(&b, IFLA_BRPORT_MODE, &on, 1);
        nl_end(&b, prot);
        r = nl_talk(n->host_nl, &b);
        if (r < 0)
            return r;
    }
    return 0;
}

int pc_net_make_link(const struct pc_net *n, int netns_fd)
{
    return make_link(n, IFLA_NET_NS_FD, (unsigned int)netns_fd);
}

void pc_child_net(const struct pc_net *n)
{
    /* 1. on the host: the pair with its peer in our namespace (by our pid, as our own pid
     * namespace sees it: the kernel looks it up there); made by the parent instead when
     * we are in a user namespace of our own (ours has no capability on the host's) */
    int r;
    if (!n->by_parent && (r = make_link(n, IFLA_NET_NS_PID, (unsigned int)getpid())) < 0)
        FAILE(-r, PC_STEP_NET_VETH, -1, n->host_ifname);

    /* 2. in our namespace: up, addresses, default routes */
    int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (s < 0)
        FAIL(PC_STEP_NET_UP, -1, n->ifname);
    int index = if_index(s, n->ifname);
    if (index < 0)
        FAILE(-index, PC_STEP_NET_UP, -1, n->ifname);
    r = if_up(s, n->ifname);
    if (r < 0)
        FAILE(-r, PC_STEP_NET_UP, -1, n->ifname);
    close(s);
    int nl = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
    if (nl < 0)
        FAIL(PC_STEP_NET_ADDR, -1, n->ifname);
    if (n->has4 && (r = add_addr(nl, AF_INET, index, n->addr4, n->prefix4)) < 0)
        FAILE(-r, PC_STEP_NET_ADDR, 4, n->ifname);
    if (n->has6 && (r = add_addr(nl, AF_INET6, index, n->addr6, n->prefix6)) < 0)
        FAILE(-r, PC_STEP_NET_ADDR, 6, n->ifname);
    if (n->has_gw4 && (r = add_default_route(nl, AF_INET, index, n->gw4)) < 0)
        FAILE(-r, PC_STEP_NET_ROUTE, 4, n->ifname);
    if (n->has_gw6 && (r = add_default_route(nl, AF_INET6, index, n->gw6)) < 0)
        FAILE(-r, PC_STEP_NET_ROUTE, 6, n->ifname);
    close(nl);
}
