from scratch
maintainer Jane <jane@example.com>
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
ENTRYPOINT /entry.sh --flag
CMD echo hello
USER 1000:1000
EXPOSE 80 443/udp 8000-8001 53/UDP
VOLUME ["/data", "/var/log"]
VOLUME /cache /tmp/x
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=30s --timeout=1m30s --retries=3 CMD curl -f http://localhost/ || exit 1
ONBUILD ADD . /app/src
WORKDIR /app/
WORKDIR sub
