#!/usr/bin/python3
"""gateway_scrapy.py: a Scrapy crawl through proxypoold's gateway.

    gateway_scrapy.py [--gateway HOST:PORT] [--user USER] START_URL

Scrapy's own HttpProxyMiddleware sends every request to the proxy named
in request.meta["proxy"] (or in the http_proxy/https_proxy environment
variables, so `http_proxy=http://127.0.0.1:3128 scrapy crawl ...` works
unchanged): no middleware to write.  The gateway leases a proxy per
request, retries another one on a proxy failure, and feeds the outcomes
back, so dead or banned proxies leave the rotation by themselves.  With
--user web-session-ID every request of the crawl goes through one proxy.
Follows the links of the start page's host, up to 50 pages.
"""
import argparse
import os
from urllib.parse import urlparse

import scrapy
from scrapy.crawler import CrawlerProcess


class Site(scrapy.Spider):
    name = "site"
    custom_settings = {"CLOSESPIDER_PAGECOUNT": 50, "LOG_LEVEL": "INFO"}

    def __init__(self, start, proxy, **kw):
        super().__init__(**kw)
        self.start_urls = [start]
        self.allowed_domains = [urlparse(start).hostname]
        self.proxy = proxy

    def start_requests(self):
        for url in self.start_urls:
            yield scrapy.Request(url, meta={"proxy": self.proxy})

    def parse(self, response):
        yield {"url": response.url, "status": response.status,
               "proxy": response.headers.get("X-Proxypool-Proxy",
                                             b"-").decode()}
        for href in response.css("a::attr(href)").getall():
            yield response.follow(href, meta={"proxy": self.proxy})


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--gateway",
                    default=os.environ.get("PROXYPOOL_GATEWAY",
                                           "127.0.0.1:3128"))
    ap.add_argument("--user", default="")
    ap.add_argument("start")
    args = ap.parse_args()
    cred = args.user + ":@" if args.user else ""
    proc = CrawlerProcess({"FEEDS": {"stdout:": {"format": "jsonlines"}}})
    proc.crawl(Site, start=args.start,
               proxy="http://%s%s" % (cred, args.gateway))
    proc.start()


if __name__ == "__main__":
    main()
