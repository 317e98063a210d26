# written by swap.plot (lua/swap/plot.lua); run: gnuplot sweep-times.gp
set datafile separator ','
set datafile missing 'nan'
if (strstrt(GPVAL_TERMINALS, 'pngcairo') > 0) {
  set terminal pngcairo size 800,560 font 'sans,10' noenhanced
} else {
  set terminal png size 800,560 noenhanced
}
set output '.sweep-times.png.tmp'
set grid

set title "sweep fmnist-bs: wall-clock time per phase (critical path)"
set ylabel 'time (s)'
set xlabel 'pipeline'
set style data histograms
set style histogram rowstacked
set style fill solid 0.8 border -1
set boxwidth 0.7
set key outside right top
set xtics rotate by -30
set yrange [0:*]
plot 'sweep-times.csv' skip 1 using 3:xtic(2) title 'phase 1', '' skip 1 using 4 title 'phase 2 (slowest worker)', '' skip 1 using 5 title 'phase 3'
