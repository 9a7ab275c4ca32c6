// The prediction page without this script is complete; with it, two conveniences:
// choosing a neighbourhood moves latitude/longitude to its median position (until the host
// types a position of their own), and the amenities can be searched by name.
"use strict";
(function () {
  var neighbourhood = document.getElementById("neighbourhood_cleansed");
  var latitude = document.getElementById("latitude");
  var longitude = document.getElementById("longitude");
  if (neighbourhood && latitude && longitude) {
    var typed = false;
    var markTyped = function () { typed = true; };
    latitude.addEventListener("input", markTyped);
    longitude.addEventListener("input", markTyped);
    neighbourhood.addEventListener("change", function () {
      var option = neighbourhood.options[neighbourhood.selectedIndex];
      if (typed || !option || !option.dataset.latitude) {
        return;
      }
      latitude.value = option.dataset.latitude;
      longitude.value = option.dataset.longitude;
    });
  }
  var search = document.getElementById("amenity-search");
  if (search) {
    search.parentElement.hidden = false;
    var amenities = document.querySelectorAll(".amenity");
    search.addEventListener("input", function () {
      var wanted = search.value.trim().toLowerCase();
      amenities.forEach(function (amenity) {
        var name = amenity.textContent.trim().toLowerCase();
        amenity.hidden = wanted !== "" && name.indexOf(wanted) === -1;
      });
    });
  }
})();
