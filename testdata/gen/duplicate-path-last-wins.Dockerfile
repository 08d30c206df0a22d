FROM scratch
ADD duplicate-path-last-wins.tar /
CMD ["/bin/sh"]
