FROM scratch
ADD compress-none.tar /
CMD ["/bin/sh"]
