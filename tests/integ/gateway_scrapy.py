"""gateway_scrapy.py: a Scrapy spider (CrawlerProcess in a subprocess)
crawls target.py's linked /page/N pages through proxypoold's gateway:
once with the proxy from http_proxy/https_proxy in the environment
(HttpProxyMiddleware), HTTP and HTTPS (CONNECT), and once with
meta['proxy'] naming a session in the proxy user name."""
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from daemon_util import ok, finish  # noqa: E402
from gateway_util import GwEnv, PYTHON3, T, case, free_port  # noqa: E402

SPIDER = r'''
import json, sys
import scrapy
from scrapy.crawler import CrawlerProcess

start, out, proxy = sys.argv[1], sys.argv[2], sys.argv[3]
got = []


class Pages(scrapy.Spider):
    name = "pages"
    custom_settings = {"HTTPERROR_ALLOW_ALL": True}

    def start_requests(self):
        for url in start.split(","):
            yield scrapy.Request(url, meta={"proxy": proxy} if proxy else {})

    def parse(self, response):
        got.append({"url": response.url, "status": response.status,
                    "proxy": response.headers.get("X-Proxypool-Proxy",
                                                  b"").decode(),
                    "session": response.headers.get("X-Proxypool-Session",
                                                    b"").decode(),
                    "error": response.headers.get("X-Proxypool-Error",
                                                  b"").decode(),
                    "title": response.css("title::text").get()
                    if response.status == 200 else None})
        if response.status != 200:
            return
        for href in response.css("a::attr(href)").getall():
            yield response.follow(href, self.parse,
                                  meta={"proxy": proxy} if proxy else {})


p = CrawlerProcess(settings={
    "LOG_LEVEL": "ERROR", "ROBOTSTXT_OBEY": False,
    "TELNETCONSOLE_ENABLED": False, "DOWNLOAD_TIMEOUT": 15,
    "RETRY_ENABLED": False, "CLOSESPIDER_TIMEOUT": 60,
    "CONCURRENT_REQUESTS": 4, "COOKIES_ENABLED": False,
    "REQUEST_FINGERPRINTER_IMPLEMENTATION": "2.7",
})
p.crawl(Pages)
p.start()
json.dump(got, open(out, "w"))
'''

env = GwEnv()
env.start_redis()
env.start_target()
tp = {}
for n in ("tpa", "tpb"):
    tp["http://127.0.0.1:%d" % env.start_tinyproxy(n)[0]] = n
G0 = free_port()
# Scrapy keeps its CONNECT tunnels open (a lease each) and runs 4
# requests at a time: the proxies are shared
env.write_gw('{ name = "web"; shared = true; max_shares = 16;'
             '  proxies = [ %s ]; }' % ", ".join('"%s"' % p for p in tp),
             '{ listen = "127.0.0.1:%d"; pool = "web"; proxy_header = true;'
             '  wait = 5.0; }' % G0)
env.start_daemon()
GW = "http://127.0.0.1:%d" % G0
script = os.path.join(env.dir, "spider.py")
with open(script, "w") as f:
    f.write(SPIDER)
PAGES = {"/page/%d" % n for n in range(1, 10)}


def crawl(start, proxy="", environ=None):
    out = os.path.join(env.dir, "crawl.json")
    if os.path.exists(out):
        os.unlink(out)
    e = dict(os.environ)
    for k in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY",
              "no_proxy", "NO_PROXY"):
        e.pop(k, None)
    e.update(environ or {})
    p = subprocess.run([PYTHON3, script, start, out, proxy], env=e,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       timeout=90)
    try:
        got = json.load(open(out))
    except (OSError, ValueError):
        got = []
    if p.returncode != 0 or not got:
        sys.stdout.write(p.stdout.decode(errors="replace")[-3000:])
    return p.returncode, got


def path(url):
    return "/" + url.split("/", 3)[3]


@case
def env_proxy():
    before = env.info_gw(idx=0)
    env.reset_stats()
    rc, got = crawl(env.turl + "/page/1," + env.tlsurl + "/page/1",
                    environ={"http_proxy": GW, "https_proxy": GW})
    plain = [g for g in got if g["url"].startswith("http:")]
    tls = [g for g in got if g["url"].startswith("https:")]
    ok(rc == 0 and {path(g["url"]) for g in plain} == PAGES and
       all(g["status"] == 200 for g in got),
       "the spider crawls the 9 linked pages over HTTP through http_proxy "
       "(rc %d, %s)" % (rc, sorted((path(g["url"]), g["status"],
                                    g["error"]) for g in plain)))
    ok({path(g["url"]) for g in tls} == PAGES and
       all(g["title"] == "page %s" % path(g["url"])[6:] for g in got),
       "and over HTTPS through CONNECT, every page whole (%d pages)" %
       len(tls))
    by = env.stats()["by_proxy"]
    ok({g["proxy"] for g in plain} <= set(tp) and by.pop("-", 0) == 9 and
       set(by) <= set(tp.values()) and sum(by.values()) == 9,
       "the HTTP pages came through the pool's tinyproxies (X-Proxy-Id), "
       "the HTTPS ones in tunnels (%s)" % env.stats()["by_proxy"])
    after = env.info_gw(idx=0)
    ok(after["requests"] - before["requests"] == 9 and
       after["tunnels"] > before["tunnels"] and
       after["ok"] - before["ok"] >= 10,
       "INFO counts the plain requests and the tunnels (%d %d %d)" %
       (after["requests"] - before["requests"],
        after["tunnels"] - before["tunnels"], after["ok"] - before["ok"]))


@case
def meta_proxy_session():
    env.reset_stats()
    rc, got = crawl(env.turl + "/page/1",
                    proxy="http://web-session-scr:x@127.0.0.1:%d" % G0)
    ok(rc == 0 and {path(g["url"]) for g in got} == PAGES,
       "meta['proxy'] with a session user name: the 9 pages (rc %d, %d)"
       % (rc, len(got)))
    ok(len({g["proxy"] for g in got}) == 1 and
       {g["session"] for g in got} == {"scr"} and
       len(env.stats()["by_proxy"]) == 1,
       "all through the session's one upstream (%s %s)" %
       ({g["proxy"] for g in got}, env.stats()["by_proxy"]))


finish()
