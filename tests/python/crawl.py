"""crawl.py: a Scrapy crawl through proxypool.scrapy.ProxyPoolMiddleware,
run by test_scrapy.py in a process of its own (a Twisted reactor starts
once per process).

    crawl.py SOCKET POOL START_URL OUT.json asyncio|default

Follows every link of the start page's site; writes the pages fetched
(url, status) and the crawl's stats to OUT.json."""
import json
import sys

import scrapy
from scrapy.crawler import CrawlerProcess


class Site(scrapy.Spider):
    name = "site"

    def __init__(self, start, **kw):
        super().__init__(**kw)
        self.start_urls = [start]
        self.pages = []

    def parse(self, response):
        self.pages.append({"url": response.url, "status": response.status,
                           "proxy": response.meta.get("proxy")})
        for href in response.css("a::attr(href)").getall():
            yield response.follow(href)


def main():
    sock, pool, start, out, reactor = sys.argv[1:6]
    settings = {
        "DOWNLOADER_MIDDLEWARES": {
            "proxypool.scrapy.ProxyPoolMiddleware": 610},
        "PROXYPOOL_POOL": pool,
        "PROXYPOOL_SOCKET": sock,
        "PROXYPOOL_WAIT": 10,
        "CONCURRENT_REQUESTS": 8,
        "DOWNLOAD_TIMEOUT": 10,
        "RETRY_ENABLED": False,     # proxypool's own retries only
        "ROBOTSTXT_OBEY": False,
        "TELNETCONSOLE_ENABLED": False,
        "LOG_LEVEL": "INFO",
        "CLOSESPIDER_TIMEOUT": 60,
    }
    if reactor == "asyncio":
        settings["TWISTED_REACTOR"] = \
            "twisted.internet.asyncioreactor.AsyncioSelectorReactor"
    proc = CrawlerProcess(settings)
    crawler = proc.create_crawler(Site)
    proc.crawl(crawler, start=start)
    proc.start()
    from twisted.internet import reactor as r
    with open(out, "w") as f:
        json.dump({"pages": crawler.spider.pages,
                   "stats": {k: v for k, v in crawler.stats.get_stats()
                             .items() if isinstance(v, (int, float, str))},
                   "reactor": type(r).__name__}, f)


if __name__ == "__main__":
    main()
