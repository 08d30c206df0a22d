FROM scratch
ADD hardlink-metadata-last-header-wins.tar /
CMD ["/bin/sh"]
