# written by swap.plot (lua/swap/plot.lua); run: gnuplot sweep-phase1_batch.gp
set datafile separator ','
set datafile missing 'nan'
if (strstrt(GPVAL_TERMINALS, 'pngcairo') > 0) {
  set terminal pngcairo size 800,560 font 'sans,10' noenhanced
} else {
  set terminal png size 800,560 noenhanced
}
set output '.sweep-phase1_batch.png.tmp'
set grid

set title "sweep fmnist-bs: test accuracy against phase1.batch"
set xlabel "phase1.batch (log scale)"
set ylabel 'test accuracy (%)'
set key outside right top
set logscale x 2
set offsets graph 0.05, graph 0.05, graph 0.05, graph 0.05
plot 'sweep-phase1_batch.csv' skip 1 using 1:(strcol(3) eq "all" ? 100*$4 : NaN) with linespoints lw 2 pt 7 ps 1.3 lc 1 dt 1 title "phase-1 model", \
     '' skip 1 using 1:(strcol(3) eq "all" ? 100*$5 : NaN) with linespoints lw 2 pt 5 ps 1.3 lc 2 dt 1 title "best worker", \
     '' skip 1 using 1:(strcol(3) eq "all" ? 100*$6 : NaN) with linespoints lw 2 pt 9 ps 1.3 lc 3 dt 1 title "SWAP average", \
     '' skip 1 using 1:(strcol(3) eq "all" ? 100*$7 : NaN) with linespoints lw 2 pt 11 ps 1.3 lc 4 dt 1 title "ensemble"
